package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/restore"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// groupsFlags are the consumer-group flags of restore.
func groupsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "groups", Usage: "commit the translated offsets of the consumer groups matching `REGEX[:TARGET]` once the data is restored (repeatable; TARGET renames, $1 expands)"},
		&cli.BoolFlag{Name: "allow-rewind", Usage: "commit translated offsets behind what a group already committed on the target"},
		stateDirFlag(),
	}
}

func stateDirFlag() cli.Flag {
	return &cli.StringFlag{Name: "state-dir", EnvVars: []string{"KBACKUP_STATE_DIR"},
		Usage: "`DIR` of the restores' offset maps and group commits", DefaultText: restore.DefaultStateDir()}
}

// consumerGroups reads --groups, --allow-rewind (and --skip-active) into
// a selection; nil when --groups is not given.
func consumerGroups(c *cli.Context) (*restore.ConsumerGroups, error) {
	if !c.IsSet("groups") {
		if c.Bool("allow-rewind") {
			return nil, fmt.Errorf("%w: --allow-rewind needs --groups REGEX", errUsage)
		}
		return nil, nil
	}
	g := &restore.ConsumerGroups{AllowRewind: c.Bool("allow-rewind"), SkipActive: c.Bool("skip-active")}
	for _, s := range c.StringSlice("groups") {
		g.Include = append(g.Include, restore.ParseGroupMapping(s))
	}
	return g, nil
}

func groupsCommand() *cli.Command {
	flags := func(extra ...cli.Flag) []cli.Flag {
		return append(append(adminFlags(brokersFlag(), stateDirFlag(), outputFlag(),
			&cli.StringFlag{Name: "target", Aliases: []string{"t"}, Usage: "the restored target `TOPIC` (required)"},
		), extra...), logFlags()[1:]...)
	}
	sel := []cli.Flag{
		&cli.StringSliceFlag{Name: "groups", Usage: "consumer groups `REGEX[:TARGET]` (required, repeatable; TARGET renames, $1 expands)"},
		&cli.StringFlag{Name: "at", Usage: "use the newest capture at or before `RFC3339` (default: the newest)"},
		&cli.BoolFlag{Name: "allow-rewind", Usage: "commit translated offsets behind what a group already committed"},
		&cli.BoolFlag{Name: "skip-active", Usage: "leave groups with members alone instead of failing"},
	}
	return &cli.Command{
		Name:  "groups",
		Usage: "translate consumer-group offsets into a finished restore's target (docs/restore.md, \"Consumer groups\")",
		Subcommands: []*cli.Command{
			{Name: "plan", Usage: "show the translated offsets and what apply would do; changes nothing", Flags: flags(sel...),
				Action: func(c *cli.Context) error { return runGroups(c, restore.PlanGroups) }},
			{Name: "apply", Usage: "commit the translated offsets (groups must have no members)", Flags: flags(sel...),
				Action: func(c *cli.Context) error { return runGroups(c, restore.ApplyGroups) }},
			{Name: "rollback", Usage: "put back what the groups had committed before restores committed", Flags: flags(),
				Action: runGroupsRollback},
		},
	}
}

func groupsOptions(c *cli.Context) (restore.GroupsOptions, error) {
	if c.NArg() > 0 {
		return restore.GroupsOptions{}, fmt.Errorf("%w: unexpected argument %q", errUsage, c.Args().First())
	}
	o := restore.GroupsOptions{Target: c.String("target"), StateDir: c.String("state-dir")}
	if o.Target == "" {
		return o, fmt.Errorf("%w: name the restored topic with --target TOPIC", errUsage)
	}
	if s := c.String("at"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return o, fmt.Errorf("%w: --at %q is not an RFC 3339 time (e.g. 2021-01-01T00:00:00Z)", errUsage, s)
		}
		o.At = t
	}
	return o, nil
}

// groupsFunc is restore.PlanGroups or restore.ApplyGroups.
type groupsFunc func(context.Context, *store.Store, *kafka.Config, restore.GroupsOptions) ([]restore.GroupOffsetPlan, error)

func runGroups(c *cli.Context, run groupsFunc) error {
	if _, err := outputFormat(c); err != nil {
		return err
	}
	o, err := groupsOptions(c)
	if err != nil {
		return err
	}
	g, err := consumerGroups(c)
	if err != nil {
		return err
	}
	if g == nil {
		return fmt.Errorf("%w: select consumer groups with --groups REGEX[:TARGET] (.* for every group)", errUsage)
	}
	o.Groups = *g
	fc, _, kc, err := loadEnv(c)
	if err != nil {
		return err
	}
	st, err := openExistingStore(c, fc, storageURL(c, fc))
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := run(c.Context, st, kc, o)
	if errors.Is(err, restore.ErrInvalidSpec) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []restore.GroupOffsetPlan{}
	}
	return render(c, rows, func(w io.Writer) error { return printGroupRows(w, rows) })
}

// printGroupRows prints the plan table.
func printGroupRows(w io.Writer, rows []restore.GroupOffsetPlan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tSOURCE OFFSET\tTARGET OFFSET\tLAG\tCURRENT\tACTION\tNOTE")
	for _, r := range rows {
		cur, note := "-", ""
		if r.Current >= 0 {
			cur = fmt.Sprint(r.Current)
		}
		if r.Group != r.SourceGroup {
			note = "from " + r.SourceGroup
		}
		if r.Before {
			note = join(note, fmt.Sprintf("before the restored records: %d offsets not restored", r.Skipped))
		} else if r.Skipped > 0 {
			note = join(note, fmt.Sprintf("%d offsets not restored", r.Skipped))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", r.Group, r.Topic, r.Partition, r.SourceOffset, r.TargetOffset, r.Lag, cur, r.Action, note)
	}
	return tw.Flush()
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func runGroupsRollback(c *cli.Context) error {
	if _, err := outputFormat(c); err != nil {
		return err
	}
	o, err := groupsOptions(c)
	if err != nil {
		return err
	}
	_, _, kc, err := loadEnv(c)
	if err != nil {
		return err
	}
	prev, err := restore.RollbackGroups(c.Context, kc, o)
	if err != nil {
		return err
	}
	return render(c, prev, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tOFFSET")
		for _, p := range prev {
			off := "none (deleted)"
			if p.Offset >= 0 {
				off = fmt.Sprint(p.Offset)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", p.Group, o.Target, p.Partition, off)
		}
		return tw.Flush()
	})
}

// printGroupsReport prints one line of what a restore did with groups.
func printGroupsReport(w io.Writer, target string, g *restore.GroupsReport) {
	fmt.Fprintf(w, "%s: consumer groups: %s\n", target, g.Summary())
}
