package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/restore"
	"github.com/kbackup/kbackup/fs"
	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

func mountCommand() *cli.Command {
	return &cli.Command{
		Name:      "mount",
		Usage:     "show backups as a filesystem; copy a snapshot into restore/ to restore it (docs/mount.md)",
		ArgsUsage: "MOUNTPOINT",
		Flags: append([]cli.Flag{
			storageFlag(), encryptionKeyFlag(), brokersFlag(),
			&cli.DurationFlag{Name: "refresh", Value: fs.DefaultRefresh, Usage: "re-read topics, manifests and indexes older than this"},
			&cli.BoolFlag{Name: "allow-other", Usage: "let other users read the mount (non-root: user_allow_other in /etc/fuse.conf); only the mount's owner and root start restores"},
			&cli.StringSliceFlag{Name: "restore-users", Usage: "`USER`s (names or uids) who may also start and cancel restores in restore/"},
			&cli.StringSliceFlag{Name: "restore-groups", Usage: "members of `GROUP`s (names or gids) may also start and cancel restores in restore/"},
			&cli.BoolFlag{Name: "debug", Usage: "log every FUSE request"},
		}, append(restoreFlags(), logFlags()...)...),
		Action: runMount,
	}
}

// unmountGrace is how long an unmount on SIGINT/SIGTERM may wait for open
// files before the mount is detached lazily.
const unmountGrace = 3 * time.Second

func runMount(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("%w: mount takes one argument, the MOUNTPOINT directory (got %d)", errUsage, c.NArg())
	}
	fc, log, kc, err := loadEnv(c)
	if err != nil {
		return err
	}
	url := storageURL(c, fc)
	if url == "" {
		return fmt.Errorf("%w: --storage is required", errUsage)
	}
	st, err := openExistingStore(c, fc, url)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CheckBackup(c.Context); errors.Is(err, store.ErrNoBackup) {
		// The mount shows topics as they appear: warn, do not refuse.
		log.Warn("no backup in storage yet", "err", err)
	} else if err != nil {
		return err
	}
	opts := fs.Options{Refresh: c.Duration("refresh"), AllowOther: c.Bool("allow-other"), Debug: c.Bool("debug"), Logger: log}
	if opts.RestoreUsers, err = ids(c.StringSlice("restore-users"), lookupUser); err != nil {
		return err
	}
	if opts.RestoreGroups, err = ids(c.StringSlice("restore-groups"), lookupGroup); err != nil {
		return err
	}
	r, done, err := copyRestorer(c, st, kc, log)
	if err != nil {
		return err
	}
	defer done()
	opts.Restorer = r
	srv, err := fs.Mount(c.Context, st, c.Args().First(), opts)
	if err != nil {
		return err
	}
	log.Info("mounted", "mountpoint", srv.Mountpoint(), "storage", st.URL(), "restore", opts.Restorer != nil)
	waitUnmount(c.Context, srv, log)
	log.Info("unmounted", "mountpoint", srv.Mountpoint())
	return nil
}

// copyRestorer is the Restorer of restore by copy (mount and serve): nil
// without --brokers. done closes it.
func copyRestorer(c *cli.Context, st *store.Store, kc *kafka.Config, log *slog.Logger) (r fs.Restorer, done func(), err error) {
	ropts := restore.RunsOptions{Logger: log, AllowNonEmpty: c.Bool("restore-allow-nonempty"), AllowNoPreflight: c.Bool("restore-allow-no-preflight"),
		StateDir: c.String("state-dir")}
	if c.IsSet("restore-retention") {
		if ropts.Retention, err = restore.ParseRetentionPolicy(c.String("restore-retention")); err != nil {
			return nil, nil, fmt.Errorf("%w: --restore-retention: %v", errUsage, err)
		}
	}
	if len(kc.Brokers) == 0 {
		return nil, func() {}, nil
	}
	rs := restore.NewRuns(context.WithoutCancel(c.Context), st, kc, ropts)
	return mountRestorer{rs}, rs.Close, nil
}

// restoreFlags are the flags of restores started by copy.
func restoreFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "restore-allow-nonempty", Usage: "let specs copied into restore/ append to non-empty targets (allowNonEmpty)"},
		&cli.BoolFlag{Name: "restore-allow-no-preflight", Usage: "let specs copied into restore/ disable preflight checks (disablePreflightChecks)"},
		&cli.StringFlag{Name: "restore-retention", Usage: "for restores that choose none, records older than the target's retention.ms: `apply`, extend or ignore (see kbackup restore --retention)"},
		stateDirFlag(),
	}
}

// ids resolves users or groups given by name or number.
func ids(names []string, lookup func(string) (string, error)) ([]uint32, error) {
	var out []uint32
	for _, n := range names {
		for _, n := range strings.Split(n, ",") {
			if n = strings.TrimSpace(n); n == "" {
				continue
			}
			id := n
			if _, err := strconv.ParseUint(n, 10, 32); err != nil {
				if id, err = lookup(n); err != nil {
					return nil, fmt.Errorf("%w: %v", errUsage, err)
				}
			}
			v, err := strconv.ParseUint(id, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%w: %s has id %q, not a number", errUsage, n, id)
			}
			out = append(out, uint32(v))
		}
	}
	return out, nil
}

func lookupUser(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("--restore-users: %w", err)
	}
	return u.Uid, nil
}

func lookupGroup(name string) (string, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return "", fmt.Errorf("--restore-groups: %w", err)
	}
	return g.Gid, nil
}

// waitUnmount returns once srv is unmounted: from outside, or on ctx's
// end, when fs.Mount unmounts. Files still open then make the mountpoint
// busy; after unmountGrace it is detached lazily (root only).
func waitUnmount(ctx context.Context, srv *fs.Server, log *slog.Logger) {
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	select {
	case <-done:
		return
	case <-time.After(unmountGrace):
	}
	log.Warn("mountpoint busy; detaching it", "mountpoint", srv.Mountpoint())
	if err := syscall.Unmount(srv.Mountpoint(), syscall.MNT_DETACH); err != nil {
		log.Error("detach", "mountpoint", srv.Mountpoint(), "err", err)
	}
	<-done
}

// mountRestorer adapts restore.Runs to fs.Restorer: each kind of request
// goes to its typed call.
type mountRestorer struct{ rs *restore.Runs }

var _ fs.Restorer = mountRestorer{}

func (m mountRestorer) Start(_ context.Context, req fs.RestoreRequest) error {
	var err error
	switch {
	case req.Invalid != "":
		err = m.rs.Invalid(req.Name, req.Invalid)
	case req.Spec != nil:
		err = m.rs.StartSpec(req.Name, req.Spec)
	default:
		err = m.rs.Copy(restore.CopyRequest{Name: req.Name, Source: req.Source, Partitions: req.Partitions, Target: req.Target})
	}
	switch {
	case errors.Is(err, restore.ErrInvalidSpec):
		return fmt.Errorf("%w: %w", fs.ErrInvalidRestore, err)
	case errors.Is(err, restore.ErrNameInUse):
		return fmt.Errorf("%w: %w", fs.ErrRestoreExists, err)
	}
	return err
}

func (m mountRestorer) List(context.Context) ([]string, error) { return m.rs.List(), nil }

func (m mountRestorer) Status(_ context.Context, name string) (*browse.RestoreStatus, error) {
	rep, err := m.rs.Report(name)
	if err != nil {
		return nil, err
	}
	return statusOf(&rep), nil
}

// statusOf carries an engine report over to the status the browse model
// renders: field for field, no formatting here.
func statusOf(rep *restore.Report) *browse.RestoreStatus {
	s := &browse.RestoreStatus{Name: rep.Name, Phase: rep.Status.Phase.String(), Reason: rep.Status.Reason,
		Started: rep.Started, Finished: rep.Finished, Produced: rep.Produced}
	for _, t := range rep.Status.Topics {
		ts := browse.TopicStatus{Source: t.Source, Snapshot: t.Snapshot, Target: t.Target, Phase: t.Phase.String(), Created: t.Created,
			Records: t.Records, RecordsTotal: t.RecordsTotal, DecodedBytes: t.DecodedBytes, DecodedBytesTotal: t.DecodedBytesTotal, ExpiredRecords: t.ExpiredRecords}
		if g := t.Groups; g != nil {
			ts.ConsumerGroups = g.Summary()
		}
		if r := t.Retention; r != nil && (r.Older != 0 || len(r.OverBytes) != 0 || len(r.Extended) != 0) {
			ts.Retention = &browse.RetentionStatus{Policy: string(r.Policy), RetentionMs: r.RetentionMs, Cutoff: r.Cutoff,
				Older: r.Older, Skipped: r.Skipped, OverBytes: r.OverBytes, Extended: r.Extended}
		}
		for _, p := range t.Partitions {
			ps := browse.PartitionStatus{Partition: p.Partition, Records: p.Records, RecordsTotal: p.RecordsTotal, Resumed: p.Resumed}
			for _, e := range p.Expired {
				ps.Expired = append(ps.Expired, browse.ExpiredSpan{FirstOffset: e.FirstOffset, LastOffset: e.LastOffset,
					MinTimestamp: e.MinTimestamp, MaxTimestamp: e.MaxTimestamp, Records: e.Records})
			}
			ts.Partitions = append(ts.Partitions, ps)
		}
		s.Topics = append(s.Topics, ts)
	}
	return s
}

func (m mountRestorer) Cancel(_ context.Context, name string) error { return m.rs.Cancel(name) }
