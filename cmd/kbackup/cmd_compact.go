package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/compact"
)

// indexCompactCommand is `kbackup index compact`.
func indexCompactCommand(snap cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "compact",
		Usage:     "merge small adjacent segments of a snapshot into segments of up to --segment-bytes (stop the backup of the topic first)",
		ArgsUsage: "TOPIC",
		Flags: adminFlags(snap,
			&cli.StringFlag{Name: "segment-bytes", Value: "64MiB", Usage: "merge into segments of at most this stored `SIZE`; segments of half of it or more are left alone"},
			&cli.DurationFlag{Name: "grace", Value: time.Minute, Usage: "keep replaced segments this `DURATION` after the index stops naming them, for readers that opened the old index"},
			outputFlag(),
		),
		Action: runIndexCompact,
	}
}

func runIndexCompact(c *cli.Context) error {
	topic, err := oneTopic(c)
	if err != nil {
		return err
	}
	size, err := parseSize("--segment-bytes", c.String("segment-bytes"))
	if err != nil {
		return err
	}
	if c.Duration("grace") < 0 {
		return fmt.Errorf("%w: --grace %s is negative: give a duration such as 1m, or 0", errUsage, c.Duration("grace"))
	}
	st, _, err := openStorage(c)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := compact.Compact(c.Context, st, topic, compact.Options{
		Snapshot: c.String("snapshot"), SegmentBytes: size, Grace: c.Duration("grace"),
	})
	if err != nil {
		return err
	}
	return render(c, rep, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "Compacted %s/v%d: %d segments -> %d (%d merged segments written, %d objects deleted)\n",
			rep.Topic, rep.Snapshot, rep.Before, rep.After, rep.Merged, len(rep.Deleted))
		return err
	})
}
