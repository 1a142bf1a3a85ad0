package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kbackup/kbackup/engine/inspect"
)

// groupsSummary is one line on a snapshot's consumer-group captures, for
// snapshot list.
func groupsSummary(w io.Writer, version int, gd *inspect.GroupsDescription) {
	if gd == nil {
		return
	}
	names := make([]string, 0, len(gd.Groups))
	for _, g := range gd.Groups {
		names = append(names, g.Group)
	}
	what := fmt.Sprintf("%d (%s)", len(gd.Groups), strings.Join(names, ", "))
	if gd.Damaged != "" {
		what = "newest capture damaged (run kbackup verify)"
	}
	fmt.Fprintf(w, "  v%d consumer groups: %s; %d capture(s), newest %s\n", version, what, gd.Captures, utc(gd.Newest))
}

// groupsTable prints a snapshot's groups as of its newest capture, for
// describe.
func groupsTable(w io.Writer, version int, gd *inspect.GroupsDescription) error {
	if gd == nil {
		return nil
	}
	fmt.Fprintf(w, "  Consumer groups of v%d: %d capture(s), newest %s\n", version, gd.Captures, utc(gd.Newest))
	if gd.Damaged != "" {
		fmt.Fprintf(w, "    newest capture damaged: %s\n", gd.Damaged)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "    GROUP\tPARTITIONS\tLAG AT CAPTURE")
	for _, g := range gd.Groups {
		fmt.Fprintf(tw, "    %s\t%d\t%d\n", g.Group, g.Partitions, g.Lag)
	}
	return tw.Flush()
}
