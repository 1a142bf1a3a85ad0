package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/inspect"
	"github.com/kbackup/kbackup/store"
)

func snapshotCommand() *cli.Command {
	return &cli.Command{
		Name:  "snapshot",
		Usage: "list and create snapshot versions of backed-up topics",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "list topics' snapshot versions (* marks the active one; every topic when none is given)",
				ArgsUsage: "[TOPIC…]",
				Flags: adminFlags(
					&cli.BoolFlag{Name: "all", Usage: "list every topic in storage (the default without TOPIC)"},
					outputFlag(),
				),
				Action: runSnapshotList,
			},
			{
				Name:      "create",
				Usage:     "archive the active version and continue the backup into a new one",
				ArgsUsage: "TOPIC",
				Flags: adminFlags(
					&cli.DurationFlag{Name: "wait", Value: 30 * time.Second, Usage: "how long to wait for a running backup to cut the version"},
					outputFlag(),
				),
				Action: runSnapshotCreate,
			},
			{
				Name:      "delete",
				Usage:     "delete an archived snapshot version: its manifest entry, index and segments (takes the topic's lease: stop its backup first)",
				ArgsUsage: "TOPIC VERSION",
				Flags:     adminFlags(outputFlag()),
				Action:    runSnapshotDelete,
			},
		},
	}
}

// snapshotList is the stable JSON/YAML shape of snapshot list.
type snapshotList struct {
	Topics []*inspect.TopicSnapshots `json:"topics" yaml:"topics"`
}

func runSnapshotList(c *cli.Context) error {
	topics, err := topicArgs(c)
	if err != nil {
		return err
	}
	if len(topics) > 0 && c.Bool("all") {
		return fmt.Errorf("%w: give TOPICs or --all, not both", errUsage)
	}
	st, _, err := openStorage(c)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(topics) == 0 {
		if topics, err = st.ListTopics(c.Context); err != nil {
			return err
		}
	}
	out := snapshotList{Topics: []*inspect.TopicSnapshots{}}
	for _, t := range topics {
		ts, err := inspect.ListSnapshots(c.Context, st, t)
		if err != nil {
			return err
		}
		out.Topics = append(out.Topics, ts)
	}
	return render(c, out, func(w io.Writer) error { return snapshotTable(w, out.Topics) })
}

func snapshotTable(w io.Writer, topics []*inspect.TopicSnapshots) error {
	for i, ts := range topics {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if ts.Layout == "flat" {
			fmt.Fprintf(w, "Topic: %s (flat layout: snapshots disabled)\n", ts.Topic)
			for _, s := range ts.Snapshots {
				groupsSummary(w, s.Version, s.Groups)
			}
			continue
		}
		fmt.Fprintf(w, "Topic: %s (active: v%d)\n", ts.Topic, ts.Active)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  VERSION\tTOPIC ID\tCREATED\tARCHIVED\tREASON")
		for _, s := range ts.Snapshots {
			mark := "  "
			if s.Active {
				mark = "* "
			}
			archived, reason := "-", s.Reason
			if s.Archived != nil {
				archived = utc(*s.Archived)
			}
			if reason == "" {
				reason = "-"
			}
			fmt.Fprintf(tw, "%sv%d\t%s\t%s\t%s\t%s\n", mark, s.Version, s.TopicID, utc(s.Created), archived, reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, s := range ts.Snapshots {
			groupsSummary(w, s.Version, s.Groups)
		}
	}
	return nil
}

func runSnapshotCreate(c *cli.Context) error {
	topics, err := topicArgs(c)
	if err != nil {
		return err
	}
	if len(topics) != 1 {
		return fmt.Errorf("%w: give exactly one TOPIC", errUsage)
	}
	st, _, err := openStorage(c)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := inspect.CreateSnapshot(c.Context, st, topics[0], inspect.CreateSnapshotOptions{
		Wait: c.Duration("wait"),
		Waiting: func(topic string, wait time.Duration) {
			fmt.Fprintf(c.App.ErrWriter, "topic %s is held by a running backup: asked it to cut a new version at its next discovery; waiting up to %s (--wait)\n", topic, wait)
		},
	})
	if errors.Is(err, inspect.ErrFlatLayout) {
		return fmt.Errorf("%w (snapshots need a cluster with topic IDs and a topic first backed up with them)", err)
	}
	if err != nil {
		return err
	}
	return render(c, res, func(w io.Writer) error {
		by := ""
		if res.ByDaemon {
			by = " by the running backup"
		}
		_, err := fmt.Fprintf(w, "Topic: %s: created v%d%s; v%d archived\n", res.Topic, res.Version, by, res.Archived)
		return err
	})
}

func runSnapshotDelete(c *cli.Context) error {
	if c.NArg() != 2 {
		return fmt.Errorf("%w: give TOPIC and VERSION (N or vN)", errUsage)
	}
	topic := c.Args().Get(0)
	if err := store.ValidTopic(topic); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	st, _, err := openStorage(c)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := inspect.DeleteSnapshot(c.Context, st, topic, c.Args().Get(1), inspect.CreateSnapshotOptions{})
	if err != nil {
		return err
	}
	return render(c, res, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "Topic: %s: deleted v%d (%d objects, %d bytes)\n", res.Topic, res.Version, res.Objects, res.Bytes)
		return err
	})
}
