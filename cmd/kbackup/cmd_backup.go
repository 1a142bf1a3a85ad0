package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/engine/metrics"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

func backupCommand() *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "back up topics: a daemon, or one pass with --once",
		Flags: append([]cli.Flag{
			brokersFlag(), storageFlag(), encryptionKeyFlag(),
			&cli.StringSliceFlag{Name: "topic", Aliases: []string{"t"}, Usage: "back up topics matching `REGEX` (anchored; repeatable; default: all)"},
			&cli.StringSliceFlag{Name: "exclude", Usage: "skip topics matching `REGEX` (repeatable)"},
			&cli.BoolFlag{Name: "once", Usage: "back up to the end offsets seen at start, then exit"},
			&cli.StringFlag{Name: "compression", Usage: "segment compression: zstd (default), lz4, snappy, gzip, none"},
			&cli.StringFlag{Name: "segment-bytes", Usage: "roll segments at this `SIZE` (default 64MiB)"},
			&cli.DurationFlag{Name: "segment-age", Usage: "roll segments this long after their first record", DefaultText: "1m"},
			&cli.DurationFlag{Name: "lease-ttl", Usage: "take over a lease not renewed for this long", DefaultText: "2m"},
			&cli.DurationFlag{Name: "retention", Usage: "delete segments whose newest record is older than this, old segments included", DefaultText: "keep"},
			&cli.DurationFlag{Name: "retention-interval", Usage: "how often to run a retention pass per topic", DefaultText: "1m"},
			&cli.DurationFlag{Name: "compact-interval", Usage: "how often the daemon merges small adjacent segments of each topic it holds; 0 turns it off", DefaultText: "1h"},
			&cli.DurationFlag{Name: "compact-grace", Usage: "keep segments replaced by a merge this long, for readers that opened the old index", DefaultText: "10m"},
			&cli.DurationFlag{Name: "flush-timeout", Usage: "on SIGTERM, give up storing what is held after this long", DefaultText: "30s"},
			&cli.DurationFlag{Name: "snapshot-every", Usage: "cut a new snapshot version of each topic this often, e.g. 24h", DefaultText: "never"},
			&cli.DurationFlag{Name: "discovery-interval", Usage: "how often to look for new or recreated topics", DefaultText: "5s"},
			&cli.DurationFlag{Name: "summary-interval", Usage: "how often the daemon logs, per topic, the records and bytes stored and the lag", DefaultText: "1m"},
			&cli.StringSliceFlag{Name: "group", Usage: "capture the committed offsets of consumer groups matching `REGEX` (anchored; repeatable; default: all)"},
			&cli.StringSliceFlag{Name: "exclude-group", Usage: "do not capture consumer groups matching `REGEX` (repeatable)"},
			&cli.DurationFlag{Name: "group-interval", Usage: "how often the daemon captures consumer-group offsets (--once: at its end); 0 turns captures off", DefaultText: "1m"},
			&cli.BoolFlag{Name: "no-groups", Usage: "do not capture consumer-group offsets"},
			&cli.StringFlag{Name: "group-id", Usage: "share the topics with every daemon started with the same `NAME`, through a Kafka group (docs/scale.md)"},
			&cli.DurationFlag{Name: "group-session-timeout", Usage: "with --group-id: hand a silent daemon's topics to the others after this long", DefaultText: "10s"},
			outputFlag(),
		}, append(append(memoryFlags(), metricsFlags(metrics.DefaultAddr, true)...), logFlags()...)...),
		Action: runBackup,
	}
}

func backupOptions(c *cli.Context, fc *fileConfig) (backup.Options, error) {
	bc := fc.Backup
	o := backup.Options{Topics: bc.Topics, Exclude: bc.Exclude, Once: bc.Once,
		Groups: bc.Groups, ExcludeGroups: bc.ExcludeGroups, NoGroups: bc.NoGroups}
	if c.IsSet("group") {
		o.Groups = c.StringSlice("group")
	}
	if c.IsSet("exclude-group") {
		o.ExcludeGroups = c.StringSlice("exclude-group")
	}
	if c.IsSet("no-groups") {
		o.NoGroups = c.Bool("no-groups")
	}
	if c.IsSet("topic") {
		o.Topics = c.StringSlice("topic")
	}
	if c.IsSet("exclude") {
		o.Exclude = c.StringSlice("exclude")
	}
	if c.IsSet("once") {
		o.Once = c.Bool("once")
	}
	o.GroupID = bc.GroupID
	if c.IsSet("group-id") {
		o.GroupID = c.String("group-id")
	}
	if o.GroupID != "" && o.Once {
		return o, fmt.Errorf("%w: --group-id %q shares the topics among daemons; it cannot be combined with --once", errUsage, o.GroupID)
	}
	comp := bc.Compression
	if c.IsSet("compression") {
		comp = c.String("compression")
	}
	var err error
	if _, err = store.ParseCodec(comp); err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	o.Compression = comp
	size := bc.SegmentBytes
	if c.IsSet("segment-bytes") {
		size = c.String("segment-bytes")
	}
	if o.SegmentBytes, err = parseSize("segment size", size); err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	durs := []struct {
		flag, file string
		dst        *time.Duration
	}{
		{"segment-age", bc.SegmentAge, &o.SegmentAge},
		{"lease-ttl", bc.LeaseTTL, &o.LeaseTTL},
		{"retention", bc.Retention, &o.Retention},
		{"retention-interval", bc.RetentionInterval, &o.RetentionInterval},
		{"compact-interval", bc.CompactInterval, &o.CompactInterval},
		{"compact-grace", bc.CompactGrace, &o.CompactGrace},
		{"flush-timeout", bc.FlushTimeout, &o.FlushTimeout},
		{"discovery-interval", bc.Discovery, &o.Discovery},
		{"snapshot-every", bc.SnapshotEvery, &o.SnapshotEvery},
		{"summary-interval", bc.SummaryInterval, &o.SummaryInterval},
		{"group-interval", bc.GroupInterval, &o.GroupInterval},
		{"group-session-timeout", bc.GroupSessionTimeout, &o.GroupSessionTimeout},
	}
	for _, d := range durs {
		if *d.dst, err = duration(d.flag, d.file); err != nil {
			return o, fmt.Errorf("%w: %v", errUsage, err)
		}
		if c.IsSet(d.flag) {
			*d.dst = c.Duration(d.flag)
		}
	}
	if (c.IsSet("compact-interval") || bc.CompactInterval != "") && o.CompactInterval == 0 {
		o.NoCompact = true // an interval of 0 turns compaction off
	}
	if o.CompactInterval < 0 || o.CompactGrace < 0 {
		return o, fmt.Errorf("%w: --compact-interval and --compact-grace cannot be negative: give a duration such as 1h, or 0", errUsage)
	}
	if (c.IsSet("compact-grace") || bc.CompactGrace != "") && o.CompactGrace == 0 {
		o.CompactGrace = -1 // no grace; the engine's zero is its default
	}
	groupsOff := c.IsSet("group-interval") || bc.GroupInterval != ""
	if groupsOff && o.GroupInterval == 0 {
		o.NoGroups = true // an interval of 0 turns captures off
	}
	for _, p := range append(append([]string{}, o.Groups...), o.ExcludeGroups...) {
		if _, err := regexp.Compile(p); err != nil {
			return o, fmt.Errorf("%w: consumer group pattern %q is not a valid regular expression: %v", errUsage, p, err)
		}
	}
	return o, memoryOptions(c, bc, &o)
}

func runBackup(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q: topics are selected with --topic REGEX", errUsage, c.Args().First())
	}
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	fc, log, kc, err := loadEnv(c)
	if err != nil {
		return err
	}
	opts, err := backupOptions(c, fc)
	if err != nil {
		return err
	}
	aimGC(opts.MaxMemory)
	st, err := openStore(c, fc, storageURL(c, fc))
	if err != nil {
		return err
	}
	defer st.Close()
	opts.Logger = log
	opts.Stats = &backup.Stats{}
	stopMetrics, err := backupMetrics(c, fc, kc, st, &opts)
	if err != nil {
		return err
	}
	defer stopMetrics()
	stopProgress := startProgress(c.App.ErrWriter, opts.Stats, opts.Once)
	sum, err := backup.Run(c.Context, st, kc, opts)
	stopProgress()
	if err == nil {
		logPeakMemory(log, opts.MaxMemory) // a failed run says so in one line
	}
	if sum != nil && (opts.Once || err == nil) {
		printSummary(c.App.Writer, format, sum)
	}
	return err
}

// backupMetrics serves the daemon's metrics and health (a --once run only
// when asked) and measures lag and RPO against Kafka while it runs.
func backupMetrics(c *cli.Context, fc *fileConfig, kc *kafka.Config, st *store.Store, opts *backup.Options) (stop func(), err error) {
	def := metrics.DefaultAddr
	if opts.Once {
		def = ""
	}
	ms, err := metricsConfig(c, fc, def)
	if err != nil || ms.addr == "" {
		return func() {}, err
	}
	// The client measuring lag first: it fails on bad Kafka settings
	// before anything is served or logged.
	cl, err := kafka.NewClient(c.Context, kc)
	if err != nil {
		return nil, err
	}
	bm := metrics.NewBackup(ms.opts)
	reg := metrics.NewRegistry(bm.Collector(), metrics.Storage(st))
	stopServe, err := serveMetrics(opts.Logger, ms.addr, metrics.Handler(reg, bm.Ready))
	if err != nil {
		cl.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(c.Context)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		bm.Run(ctx, kafka.NewAdmin(cl), ms.interval)
	}()
	stopReady := context.AfterFunc(c.Context, bm.Stopping)
	opts.Observer = bm
	return func() {
		bm.Stopping()
		stopReady()
		cancel()
		<-polled
		cl.Close()
		stopServe()
	}, nil
}

// startProgress draws a one-line progress display on a terminal.
func startProgress(w io.Writer, s *backup.Stats, enabled bool) func() {
	f, ok := w.(*os.File)
	if !enabled || !ok || !term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				secs := time.Since(start).Seconds()
				mb := float64(s.Bytes.Load()) / 1e6
				fmt.Fprintf(w, "\r\033[K%d records  %.1f MB  %.1f MB/s", s.Records.Load(), mb, mb/secs)
			}
		}
	}()
	return func() { close(done); <-finished }
}

func printSummary(w io.Writer, format string, sum *backup.Summary) {
	if format != formatText {
		_ = encodeData(w, format, sum)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tSNAPSHOT\tRECORDS\tPAYLOAD BYTES\tSTORED BYTES")
	for _, t := range sum.Topics {
		fmt.Fprintf(tw, "%s\tv%d\t%d\t%d\t%d\n", t.Topic, t.Snapshot, t.Records, t.PayloadBytes, t.Stored)
	}
	secs := sum.Duration.Seconds()
	fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\n", sum.Records, sum.PayloadBytes, sum.Stored)
	tw.Flush()
	if secs > 0 {
		fmt.Fprintf(w, "%d records, %.1f MB payload in %.1fs (%.0f records/s, %.1f MB/s)\n", sum.Records, float64(sum.PayloadBytes)/1e6, secs, float64(sum.Records)/secs, float64(sum.PayloadBytes)/1e6/secs)
	}
}
