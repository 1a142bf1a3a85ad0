package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/inspect"
	"github.com/kbackup/kbackup/store"
)

func catCommand() *cli.Command {
	return &cli.Command{
		Name:      "cat",
		Usage:     "write a topic's backed-up records to stdout as JSON lines, without mounting (like kcat -C)",
		ArgsUsage: "TOPIC",
		Flags: adminFlags(
			&cli.StringFlag{Name: "snapshot", Aliases: []string{"s"}, Usage: "snapshot `VERSION` (N, vN or latest; default: the active one)"},
			&cli.IntSliceFlag{Name: "partition", Aliases: []string{"p"}, Usage: "only partition `P` (repeatable; default: all)"},
			&cli.Int64Flag{Name: "from-offset", Usage: "first `OFFSET` (inclusive)"},
			&cli.Int64Flag{Name: "until-offset", Value: -1, Usage: "stop before `OFFSET` (exclusive)", DefaultText: "none"},
			&cli.StringFlag{Name: "from-time", Usage: "records with timestamps from `RFC3339` (inclusive)"},
			&cli.StringFlag{Name: "until-time", Usage: "records with timestamps before `RFC3339` (exclusive)"},
			&cli.Int64Flag{Name: "count", Aliases: []string{"n"}, Usage: "stop after `N` records", DefaultText: "all"},
		),
		Action: runCat,
	}
}

func runCat(c *cli.Context) error {
	topic, err := oneTopic(c)
	if err != nil {
		return err
	}
	opts := inspect.CatOptions{Snapshot: c.String("snapshot"), FromOffset: c.Int64("from-offset"), UntilOffset: c.Int64("until-offset"), Limit: c.Int64("count")}
	if opts.FromOffset < 0 || opts.Limit < 0 {
		return fmt.Errorf("%w: --from-offset and --count must not be negative", errUsage)
	}
	for _, p := range c.IntSlice("partition") {
		if p < 0 {
			return fmt.Errorf("%w: --partition %d: partitions are numbered from 0", errUsage, p)
		}
		opts.Partitions = append(opts.Partitions, int32(p))
	}
	for _, tf := range []struct {
		flag string
		dst  *time.Time
	}{{"from-time", &opts.FromTime}, {"until-time", &opts.UntilTime}} {
		if s := c.String(tf.flag); s != "" {
			if *tf.dst, err = time.Parse(time.RFC3339, s); err != nil {
				return fmt.Errorf("%w: --%s %q is not an RFC 3339 time (e.g. 2026-01-15T10:00:00Z)", errUsage, tf.flag, s)
			}
		}
	}
	st, _, err := openStorage(c)
	if err != nil {
		return err
	}
	defer st.Close()
	opts.Expired = func(p int32, e *store.SegmentEntry) {
		fmt.Fprintf(c.App.ErrWriter, "kbackup: partition %d, offsets %d-%d: %s records expired (deleted by retention), skipped\n",
			p, e.FirstOffset, e.LastOffset, strconv.FormatInt(e.Records, 10))
	}
	_, err = inspect.Cat(c.Context, st, topic, opts, c.App.Writer)
	return err
}
