package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/inspect"
)

func indexCommand() *cli.Command {
	snap := &cli.StringFlag{Name: "snapshot", Aliases: []string{"s"}, Usage: "snapshot `VERSION` (N, vN or latest; default: the active one)"}
	return &cli.Command{
		Name:  "index",
		Usage: "show, rebuild or compact a snapshot's index",
		Subcommands: []*cli.Command{
			{
				Name:      "show",
				Usage:     "list a snapshot's segments: partition, offsets, time range, records, bytes, expiry",
				ArgsUsage: "TOPIC",
				Flags:     adminFlags(snap, outputFlag()),
				Action:    runIndexShow,
			},
			{
				Name:      "rebuild",
				Usage:     "recreate a deleted or damaged index from the segments alone (stop the backup of the topic first)",
				ArgsUsage: "TOPIC",
				Flags: adminFlags(snap,
					&cli.BoolFlag{Name: "dry-run", Usage: "report what would be written, write nothing"},
					outputFlag(),
				),
				Action: runIndexRebuild,
			},
			indexCompactCommand(snap),
		},
	}
}

func oneTopic(c *cli.Context) (string, error) {
	ts, err := topicArgs(c)
	if err != nil {
		return "", err
	}
	if len(ts) != 1 {
		return "", fmt.Errorf("%w: give exactly one TOPIC", errUsage)
	}
	return ts[0], nil
}

func runIndexShow(c *cli.Context) error {
	topic, err := oneTopic(c)
	if err != nil {
		return err
	}
	st, _, err := openStorage(c)
	if err != nil {
		return err
	}
	defer st.Close()
	iv, err := inspect.ShowIndex(c.Context, st, topic, c.String("snapshot"), time.Now())
	if err != nil {
		return err
	}
	return render(c, iv, func(w io.Writer) error { return indexTable(w, iv) })
}

func indexTable(w io.Writer, iv *inspect.IndexView) error {
	fmt.Fprintf(w, "Topic: %s  Snapshot: v%d  Segments: %d  Records: %d  Stored: %d bytes\n",
		iv.Topic, iv.Snapshot, len(iv.Segments), iv.Records, iv.Stored)
	if len(iv.Segments) == 0 {
		_, err := fmt.Fprintf(w, "v%d holds no segment: no record was stored in this version yet\n", iv.Snapshot)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tSEGMENT\tOFFSETS\tNEXT\tFROM\tTO\tRECORDS\tSTORED BYTES\tEXPIRES")
	for _, s := range iv.Segments {
		exp := "never"
		if s.Expires != nil {
			exp = utc(*s.Expires)
			if s.Expired {
				exp += " (expired)"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%d-%d\t%d\t%s\t%s\t%d\t%d\t%s\n", s.Partition, s.Segment, s.FirstOffset, s.LastOffset,
			s.NextOffset, utc(s.MinTimestamp), utc(s.MaxTimestamp), s.Records, s.StoredBytes, exp)
	}
	return tw.Flush()
}

func runIndexRebuild(c *cli.Context) error {
	topic, err := oneTopic(c)
	if err != nil {
		return err
	}
	st, _, err := openStorage(c)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := inspect.RebuildIndex(c.Context, st, topic, inspect.RebuildOptions{
		Snapshot: c.String("snapshot"), DryRun: c.Bool("dry-run"),
	})
	if err != nil {
		return err
	}
	return render(c, rep, func(w io.Writer) error { return rebuildText(w, rep) })
}

func rebuildText(w io.Writer, rep *inspect.RebuildReport) error {
	verb := "Rebuilt"
	if !rep.Written {
		verb = "Would rebuild (dry run)"
	}
	fmt.Fprintf(w, "%s index of %s/v%d: %d segments, %d records\n", verb, rep.Topic, rep.Snapshot, rep.Segments, rep.Records)
	if len(rep.Skipped) == 0 && len(rep.Gaps) == 0 {
		return nil
	}
	fmt.Fprintln(w, "Not recovered:")
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "  skipped %s: %s\n", s.Object, s.Reason)
	}
	for _, g := range rep.Gaps {
		fmt.Fprintf(w, "  no segment holds %s (deleted by retention or lost)\n", g)
	}
	return nil
}
