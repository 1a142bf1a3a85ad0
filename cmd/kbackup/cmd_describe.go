package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/inspect"
	"github.com/kbackup/kbackup/kafka"
)

func describeCommand() *cli.Command {
	return &cli.Command{
		Name:      "describe",
		Usage:     "per topic and snapshot: records, stored vs raw bytes, offsets, time range; lag with --brokers",
		ArgsUsage: "[TOPIC…]",
		Flags:     adminFlags(brokersFlag(), outputFlag()),
		Action:    runDescribe,
	}
}

// describeOutput is the stable JSON/YAML shape of describe.
type describeOutput struct {
	Topics []*inspect.TopicDescription `json:"topics" yaml:"topics"`
}

func runDescribe(c *cli.Context) error {
	topics, err := topicArgs(c)
	if err != nil {
		return err
	}
	st, fc, err := openStorage(c)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(topics) == 0 {
		if topics, err = st.ListTopics(c.Context); err != nil {
			return err
		}
	}
	var live inspect.EndOffsetter
	if c.IsSet("brokers") || len(fc.Brokers) > 0 {
		kc, err := kafkaConfig(c, fc)
		if err != nil {
			return err
		}
		cl, err := kafka.NewClient(c.Context, kc)
		if err != nil {
			return err
		}
		defer cl.Close()
		live = kafka.NewAdmin(cl)
	}
	out := describeOutput{Topics: []*inspect.TopicDescription{}}
	for _, t := range topics {
		td, err := inspect.Describe(c.Context, st, t, live)
		if err != nil {
			return err
		}
		out.Topics = append(out.Topics, td)
	}
	return render(c, out, func(w io.Writer) error { return describeTable(w, out.Topics) })
}

func describeTable(out io.Writer, tds []*inspect.TopicDescription) error {
	var w bytes.Buffer
	defer func() {
		for _, l := range strings.SplitAfter(w.String(), "\n") {
			io.WriteString(out, strings.TrimRight(l, " \n")+strings.Repeat("\n", strings.Count(l, "\n")))
		}
	}()
	for i, td := range tds {
		if i > 0 {
			fmt.Fprintln(&w)
		}
		ret := "keep forever"
		if td.Retention != "" {
			ret = "delete after " + td.Retention
		}
		fmt.Fprintf(&w, "Topic: %s (%s layout; retention: %s)\n", td.Topic, td.Layout, ret)
		tw := tabwriter.NewWriter(&w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SNAPSHOT\tPARTITION\tSEGMENTS\tRECORDS\tSTORED\tDECODED\tRATIO\tOFFSETS\tTIME RANGE\tLAG")
		for _, s := range td.Snapshots {
			mark := "  "
			if s.Active {
				mark = "* "
			}
			rng := "-"
			if s.MinTime != nil {
				rng = utc(*s.MinTime) + " - " + utc(*s.MaxTime)
			}
			fmt.Fprintf(tw, "%sv%d\tall\t%s\t%s\t%d\t%d\t%.2f\t\t%s\t\n", mark, s.Version, withExpired(s.Segments, s.ExpiredSegments),
				withExpired(s.Records, s.ExpiredRecords), s.StoredBytes, s.DecodedBytes, s.Ratio, rng)
			for _, p := range s.Partitions {
				offs, lag := "-", ""
				if p.Segments > 0 {
					offs = fmt.Sprintf("%d-%d (next %d)", p.FirstOffset, p.LastOffset, p.NextOffset)
				}
				if p.Lag != nil {
					lag = fmt.Sprint(*p.Lag)
				}
				fmt.Fprintf(tw, "\t%d\t%s\t%s\t%d\t%d\t\t%s\t\t%s\n", p.Partition, withExpired(p.Segments, p.ExpiredSegments),
					withExpired(p.Records, p.ExpiredRecords), p.StoredBytes, p.DecodedBytes, offs, lag)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, s := range td.Snapshots {
			if err := groupsTable(&w, s.Version, s.Groups); err != nil {
				return err
			}
		}
	}
	return nil
}

// withExpired is a count with, when some expired, "(N expired)".
func withExpired(n, expired int64) string {
	if expired == 0 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d (%d expired)", n, expired)
}
