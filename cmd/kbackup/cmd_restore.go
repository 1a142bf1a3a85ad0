package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/kbackup/kbackup/engine/metrics"
	"github.com/kbackup/kbackup/engine/restore"
	"github.com/kbackup/kbackup/store"
)

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "restore",
		Usage: "restore topics from storage into a cluster (docs/restore.md)",
		Flags: append([]cli.Flag{
			brokersFlag(), storageFlag(), encryptionKeyFlag(),
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "restore spec `FILE` (YAML, kind: Restore); flags override it"},
			&cli.StringSliceFlag{Name: "topic", Aliases: []string{"t"}, Usage: "restore `SOURCE[:TARGET]` (repeatable)"},
			&cli.StringFlag{Name: "snapshot", Usage: "snapshot `VERSION`: N, vN or latest (default latest), or a chain vA..vB (or all) restoring versions A to B (or every version) in order into one target"},
			&cli.StringFlag{Name: "from-time", Usage: "restore records with timestamps from `RFC3339` (inclusive)"},
			&cli.StringFlag{Name: "until-time", Usage: "restore records with timestamps before `RFC3339` (exclusive)"},
			&cli.StringSliceFlag{Name: "partition", Aliases: []string{"p"}, Usage: "restore only partition `P[=FROM-UNTIL]` of the single --topic (repeatable; FROM inclusive, UNTIL exclusive, either may be empty)"},
			&cli.StringFlag{Name: "legacy-offset-header", Usage: "add the original offset as header `NAME`"},
			&cli.IntFlag{Name: "parallelism", Usage: "topics restored at once", DefaultText: "1"},
			&cli.IntFlag{Name: "max-producers", Usage: "producers shared by the topics", DefaultText: "1"},
			&cli.BoolFlag{Name: "no-preflight", Usage: "skip the preflight checks"},
			&cli.BoolFlag{Name: "create-topics", Usage: "create missing targets with the backup's partitions and configs"},
			&cli.BoolFlag{Name: "allow-nonempty", Usage: "append to targets holding other records"},
			&cli.BoolFlag{Name: "dry-run", Usage: "plan and run the preflight checks, then print the plan: nothing is created or produced"},
			&cli.BoolFlag{Name: "allow-empty", Usage: "run even when the selection holds no record (otherwise preflight fails and says what the backup holds)"},
			&cli.StringFlag{Name: "retention", Usage: "records older than the target's retention.ms: `apply` (skip them), extend (raise the target's retention) or ignore (restore them; the broker deletes them)"},
			outputFlag(),
		}, append(append(groupsFlags(), metricsFlags("", false)...), logFlags()...)...),
		Action: runRestore,
	}
}

// restoreSpec reads -f and applies the flags over it.
func restoreSpec(c *cli.Context) (*restore.Spec, error) {
	spec := &restore.Spec{}
	if path := c.String("file"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: restore spec: %v", errUsage, err)
		}
		if spec, err = restore.ParseSpecFile(path, b); err != nil {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		if e := spec.Spec.Enabled; e != nil && !*e {
			return nil, fmt.Errorf("%w: %s is a draft (spec.enabled: false): set enabled: true to run it", errUsage, path)
		}
	}
	cfg := &spec.Spec.Config
	if c.IsSet("topic") {
		cfg.Topics = nil
		for _, t := range c.StringSlice("topic") {
			src, dst, _ := strings.Cut(t, ":")
			cfg.Topics = append(cfg.Topics, restore.TopicMapping{Source: src, Target: dst})
		}
	}
	if c.IsSet("partition") {
		if len(cfg.Topics) != 1 {
			return nil, fmt.Errorf("%w: --partition applies to a single --topic; %d topics are selected", errUsage, len(cfg.Topics))
		}
		cfg.Topics[0].Partitions = nil
		for _, p := range c.StringSlice("partition") {
			pr, err := parsePartition(p)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", errUsage, err)
			}
			cfg.Topics[0].Partitions = append(cfg.Topics[0].Partitions, pr)
		}
	}
	if c.IsSet("snapshot") {
		v, err := restore.NormalizeSnapshot(c.String("snapshot"))
		if err != nil {
			return nil, fmt.Errorf("%w: --snapshot: %v", errUsage, err)
		}
		for i := range cfg.Topics {
			cfg.Topics[i].Snapshot = &restore.SnapshotRef{Version: restore.SnapshotVersion(v)}
		}
	}
	strs := []struct {
		flag string
		dst  *string
	}{{"from-time", &cfg.RestoreFromDateTime}, {"until-time", &cfg.RestoreUntilDateTime}, {"legacy-offset-header", &cfg.LegacyOffsetHeader}}
	for _, s := range strs {
		if c.IsSet(s.flag) {
			*s.dst = c.String(s.flag)
		}
	}
	if c.IsSet("parallelism") {
		cfg.Parallelism = c.Int("parallelism")
	}
	if c.IsSet("max-producers") {
		cfg.MaxProducers = c.Int("max-producers")
	}
	if c.Bool("no-preflight") {
		for i := range cfg.Topics {
			cfg.Topics[i].DisablePreflightChecks = true
		}
	}
	if c.IsSet("retention") {
		p, err := restore.ParseRetentionPolicy(c.String("retention"))
		if err != nil {
			return nil, fmt.Errorf("%w: --retention: %v", errUsage, err)
		}
		cfg.Filters.Time.Retention = p
	}
	if g, err := consumerGroups(c); err != nil {
		return nil, err
	} else if g != nil {
		cfg.ConsumerGroups = g
	}
	cfg.CreateTopics = cfg.CreateTopics || c.Bool("create-topics")
	cfg.AllowNonEmpty = cfg.AllowNonEmpty || c.Bool("allow-nonempty")
	cfg.AllowEmpty = cfg.AllowEmpty || c.Bool("allow-empty")
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return spec, nil
}

// parsePartition parses "1", "1=100-200", "1=100-" and "1=-200".
func parsePartition(s string) (restore.PartitionRange, error) {
	bad := fmt.Errorf("--partition %q: use P, P=FROM-UNTIL, P=FROM- or P=-UNTIL (e.g. 1=100-200)", s)
	num, rng, hasRange := strings.Cut(s, "=")
	n, err := strconv.ParseInt(num, 10, 32)
	if err != nil || n < 0 {
		return restore.PartitionRange{}, bad
	}
	pr := restore.PartitionRange{Number: int32(n)}
	if !hasRange {
		return pr, nil
	}
	from, until, ok := strings.Cut(rng, "-")
	if !ok || (from == "" && until == "") {
		return pr, bad
	}
	for _, b := range []struct {
		s   string
		dst **int64
	}{{from, &pr.RestoreFromOffset}, {until, &pr.RestoreUntilOffset}} {
		if b.s == "" {
			continue
		}
		v, err := strconv.ParseInt(b.s, 10, 64)
		if err != nil || v < 0 {
			return pr, bad
		}
		*b.dst = &v
	}
	return pr, nil
}

func runRestore(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q: topics are selected with --topic SOURCE[:TARGET]", errUsage, c.Args().First())
	}
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	fc, log, kc, err := loadEnv(c)
	if err != nil {
		return err
	}
	spec, err := restoreSpec(c)
	if err != nil {
		return err
	}
	st, err := openExistingStore(c, fc, storageURL(c, fc))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CheckBackup(c.Context); err != nil {
		return err
	}
	// The error is printed once, as the kbackup: line: the engine's log
	// line of the failure is left out.
	opts := restore.Options{Logger: slog.New(withoutFailure{log.Handler()}), DryRun: c.Bool("dry-run"), StateDir: c.String("state-dir")}
	bar := newRestoreProgress(c.App.ErrWriter)
	if bar != nil && !opts.DryRun {
		opts.OnStatus, opts.StatusInterval = bar.show, 500*time.Millisecond
	}
	stopMetrics, err := restoreMetrics(c, fc, st, &opts)
	if err != nil {
		return err
	}
	defer stopMetrics()
	res, err := restore.Run(c.Context, st, kc, spec, opts)
	if bar != nil {
		bar.clear()
	}
	if res != nil && len(res.Topics) > 0 {
		if opts.DryRun && err == nil {
			printPlan(c.App.Writer, format, res)
		} else {
			printRestore(c.App.Writer, format, res)
		}
	}
	if errors.Is(err, restore.ErrInvalidSpec) {
		err = fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}

// withoutFailure drops the engine's ERROR record of a failed or invalid
// restore ("restore Failed", "restore Invalid"): the command returns the
// same error, which Main prints.
type withoutFailure struct{ slog.Handler }

func (h withoutFailure) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelError && (r.Message == "restore "+restore.Failed.String() || r.Message == "restore "+restore.Invalid.String()) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h withoutFailure) WithAttrs(as []slog.Attr) slog.Handler {
	return withoutFailure{h.Handler.WithAttrs(as)}
}

func (h withoutFailure) WithGroup(name string) slog.Handler {
	return withoutFailure{h.Handler.WithGroup(name)}
}

// restoreProgress draws one progress line per topic on a terminal.
type restoreProgress struct {
	mu    sync.Mutex
	w     io.Writer
	lines int
	start time.Time
}

func newRestoreProgress(w io.Writer) *restoreProgress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &restoreProgress{w: w, start: time.Now()}
}

func (p *restoreProgress) show(s restore.Status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	secs := time.Since(p.start).Seconds()
	for _, t := range s.Topics {
		pct, eta := 100.0, "-"
		if t.RecordsTotal > 0 {
			pct = 100 * float64(t.Records) / float64(t.RecordsTotal)
		}
		if t.Records > 0 && t.Records < t.RecordsTotal && secs > 0 {
			rate := float64(t.Records) / secs
			eta = (time.Duration(float64(t.RecordsTotal-t.Records)/rate) * time.Second).Round(time.Second).String()
		}
		n := int(pct / 5)
		fmt.Fprintf(p.w, "%-24s [%-20s] %5.1f%% %d/%d records %.1f/%.1f MB decoded ETA %s %s\n", t.Target,
			strings.Repeat("#", min(n, 20)), pct, t.Records, t.RecordsTotal, float64(t.DecodedBytes)/1e6, float64(t.DecodedBytesTotal)/1e6, eta, t.Phase)
		p.lines++
	}
}

func (p *restoreProgress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

func (p *restoreProgress) clearLocked() {
	for ; p.lines > 0; p.lines-- {
		fmt.Fprint(p.w, "\033[1A\033[K")
	}
}

// printPlan prints what a dry run would restore: per partition, the
// records and decoded bytes planned from the index (an upper bound when a
// time window cuts through a segment) and what an earlier run restored.
func printPlan(w io.Writer, format string, res *restore.Result) {
	if format != formatText {
		_ = encodeData(w, format, res)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSNAPSHOT\tTARGET\tPARTITION\tRECORDS\tDECODED BYTES\tRESUMED\tEXPIRED")
	var recs, bytes int64
	for _, t := range res.Topics {
		target := t.Target
		if t.Created {
			target += " (created)"
		}
		for _, p := range t.Partitions {
			var exp int64
			for _, e := range p.Expired {
				exp += e.Records
			}
			fmt.Fprintf(tw, "%s\tv%d\t%s\t%d\t%d\t%d\t%d\t%d\n", t.Source, t.Snapshot, target, p.Partition, p.RecordsTotal, p.DecodedBytesTotal, p.Resumed, exp)
		}
		recs += t.RecordsTotal
		bytes += t.DecodedBytesTotal
	}
	tw.Flush()
	fmt.Fprintf(w, "Dry run: preflight passed; would restore %d records, %d decoded bytes; nothing was created or produced\n", recs, bytes)
}

func printRestore(w io.Writer, format string, res *restore.Result) {
	if format != formatText {
		_ = encodeData(w, format, res)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSNAPSHOT\tTARGET\tSTATUS\tRECORDS\tRESUMED")
	for _, t := range res.Topics {
		var resumed int64
		for _, p := range t.Partitions {
			resumed += p.Resumed
		}
		fmt.Fprintf(tw, "%s\tv%d\t%s\t%s\t%d\t%d\n", t.Source, t.Snapshot, t.Target, t.Phase, t.Records, resumed)
	}
	tw.Flush()
	for _, t := range res.Topics {
		if g := t.Groups; g != nil {
			printGroupsReport(w, t.Target, g)
		}
	}
	if secs := res.Duration.Seconds(); secs > 0 {
		fmt.Fprintf(w, "%s: %d records produced, %.1f MB payload in %.1fs (%.0f records/s, %.1f MB/s)\n", res.Phase, res.Produced,
			float64(res.PayloadBytes)/1e6, secs, float64(res.Produced)/secs, float64(res.PayloadBytes)/1e6/secs)
	}
}

// restoreMetrics serves the restore's metrics and health when asked
// (--metrics-addr or metrics.addr), fed by the restore's status reports.
func restoreMetrics(c *cli.Context, fc *fileConfig, st *store.Store, opts *restore.Options) (stop func(), err error) {
	ms, err := metricsConfig(c, fc, "")
	if err != nil || ms.addr == "" {
		return func() {}, err
	}
	rm := metrics.NewRestore(ms.opts)
	stop, err = serveMetrics(opts.Logger, ms.addr, metrics.Handler(metrics.NewRegistry(rm.Collector(), metrics.Storage(st)), rm.Ready))
	if err != nil {
		return nil, err
	}
	if show := opts.OnStatus; show != nil {
		opts.OnStatus = func(s restore.Status) { rm.Update(s); show(s) }
	} else {
		opts.OnStatus = rm.Update
	}
	return stop, nil
}
