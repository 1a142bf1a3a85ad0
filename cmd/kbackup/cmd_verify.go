package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/inspect"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "read every segment and check checksums, offset continuity and index agreement (exit 4 on damage)",
		ArgsUsage: "[TOPIC…]",
		Flags: adminFlags(
			&cli.StringFlag{Name: "snapshot", Aliases: []string{"s"}, Usage: "verify snapshot `VERSION` (default: the active one)"},
			&cli.BoolFlag{Name: "all-snapshots", Usage: "verify every snapshot version"},
			outputFlag(),
		),
		Action: runVerify,
	}
}

func runVerify(c *cli.Context) error {
	topics, err := topicArgs(c)
	if err != nil {
		return err
	}
	if c.IsSet("snapshot") && c.Bool("all-snapshots") {
		return fmt.Errorf("%w: --snapshot and --all-snapshots exclude each other", errUsage)
	}
	st, _, err := openStorage(c)
	if err != nil {
		return err
	}
	defer st.Close()
	opts := inspect.VerifyOptions{Snapshot: c.String("snapshot"), AllSnapshots: c.Bool("all-snapshots")}
	if isTerminal(c.App.ErrWriter) {
		opts.Progress = func(done, total int) {
			fmt.Fprintf(c.App.ErrWriter, "\r\033[Kverifying: %d/%d segments", done, total)
		}
	}
	rep, err := inspect.Verify(c.Context, st, topics, opts)
	if opts.Progress != nil {
		fmt.Fprint(c.App.ErrWriter, "\r\033[K")
	}
	if err != nil {
		return err
	}
	if err := render(c, rep, func(w io.Writer) error { return verifyText(w, rep) }); err != nil {
		return err
	}
	if rep.Damaged > 0 {
		return fmt.Errorf("%w: %d problems in %s", errDamage, rep.Damaged, damagedObjects(rep))
	}
	return nil
}

func verifyText(w io.Writer, rep *inspect.VerifyReport) error {
	for _, sc := range rep.Snapshots {
		status := "OK"
		if n := len(sc.Problems); n > 0 {
			status = fmt.Sprintf("%d problems", n)
		}
		exp := ""
		if sc.Expired > 0 {
			exp = fmt.Sprintf(" (%d expired and deleted)", sc.Expired)
		}
		fmt.Fprintf(w, "%s/v%d: %d segments%s, %d records, %d bytes read: %s\n", sc.Topic, sc.Version, sc.Segments, exp, sc.Records, sc.Bytes, status)
		for _, p := range sc.Problems {
			sev := "DAMAGE "
			if !p.Damage {
				sev = "WARNING"
			}
			fmt.Fprintf(w, "  %s %s: %s: %s\n", sev, p.Object, p.Kind, p.Detail)
		}
	}
	_, err := fmt.Fprintf(w, "verified %d snapshots, %d segments, %d records: %d damaged, %d warnings\n",
		len(rep.Snapshots), rep.Segments, rep.Records, rep.Damaged, rep.Warnings)
	return err
}

// damagedObjects names the damaged objects for the error message.
func damagedObjects(rep *inspect.VerifyReport) string {
	seen := map[string]bool{}
	var objs []string
	for _, sc := range rep.Snapshots {
		for _, p := range sc.Problems {
			if p.Damage && !seen[p.Object] {
				seen[p.Object] = true
				objs = append(objs, p.Object)
			}
		}
	}
	if len(objs) > 3 {
		objs = append(objs[:3], fmt.Sprintf("%d more", len(objs)-3))
	}
	return strings.Join(objs, ", ")
}
