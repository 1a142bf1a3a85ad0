package backup

import (
	"context"
	"fmt"
	"time"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// adminState is the backup daemon's bookkeeping for the admin hooks
// (snapshot requests, --snapshot-every, retention). Only the Run
// goroutine touches it.
type adminState struct {
	created   map[store.Loc]time.Time // creation time of active snapshots, for --snapshot-every
	retained  map[string]time.Time    // last retention pass per topic
	compacted map[string]time.Time    // last compaction pass per topic (or when it was taken)
}

// adminHook runs at every discovery for each topic being backed up: it cuts
// a new snapshot version when one was requested (kbackup snapshot create) or
// the --snapshot-every period has passed, and runs the retention pass. It
// returns the topic's run, which is a new one after a cut. Problems other
// than a failed cut are logged, never fatal.
func (b *backup) adminHook(ctx context.Context, t *topicRun, live kafka.Topic) (*topicRun, error) {
	if b.opts.Once || t.loc.Version == 0 {
		return t, nil
	}
	// Reading the requests is abandoned when the lease ends: a stalled or
	// failing storage must not keep the daemon from noticing (dropEnded
	// then stops the topic).
	lctx, cancel := t.lease.Context(ctx)
	reason, reqs := b.cutReason(lctx, t)
	cancel()
	if t.lease.Err() != nil {
		return t, nil
	}
	if reason != "" {
		nt, err := b.cutSnapshot(ctx, t, live, reason)
		if err != nil {
			return nil, fmt.Errorf("topic %s: cut snapshot: %w", t.name, err)
		}
		if err := b.st.ClearSnapshotRequests(ctx, reqs); err != nil {
			b.opts.Logger.Warn("cannot clear snapshot request", "topic", t.name, "err", err)
		}
		t = nt
	}
	if b.opts.Retention > 0 && time.Since(b.admin.retained[t.name]) >= b.opts.RetentionInterval {
		b.admin.retained[t.name] = time.Now()
		lctx, cancel := t.lease.Context(ctx)
		res, err := ApplyRetention(lctx, b.st, t.lease, b.opts.Retention, time.Now(), t.expirerFor)
		cancel()
		if err != nil {
			b.opts.Logger.Warn("retention pass failed (retrying later)", "topic", t.name, "err", err)
		} else if len(res.Deleted) > 0 {
			b.opts.Logger.Info("retention deleted expired segments", "topic", t.name, "segments", len(res.Deleted), "bytes", res.Bytes)
		}
	}
	b.compactHook(ctx, t)
	return t, nil
}

// expirerFor returns what records retention's decision in loc's index: the
// run itself for its own snapshot (whose index writer it shares), an
// archived one's index otherwise.
func (t *topicRun) expirerFor(_ context.Context, loc store.Loc) (Expirer, error) {
	if loc == t.loc {
		return t, nil
	}
	return archivedExpirer{t: t, loc: loc}, nil
}

// archivedExpirer records retention's decision in an archived snapshot's
// index (archived).
type archivedExpirer struct {
	t   *topicRun
	loc store.Loc
}

// Expire implements Expirer.
func (a archivedExpirer) Expire(ctx context.Context, before map[int32]int64, at time.Time) error {
	return a.t.archived(ctx, a.loc, func(iw *store.IndexWriter) error { return iw.Expire(ctx, before, at) })
}

// archived changes the index of loc, an archived snapshot of t's topic,
// through a new index writer, under t's index lock: retention and
// compaction (which runs beside it) each take the index over and change it
// in turn, so that neither writes after the other took it over, which the
// storage would refuse as another process's write and end the lease.
func (t *topicRun) archived(ctx context.Context, loc store.Loc, change func(iw *store.IndexWriter) error) error {
	t.imu.Lock()
	defer t.imu.Unlock()
	iw, err := t.b.st.OpenIndexWriter(ctx, t.lease, loc)
	if err != nil {
		return err
	}
	return change(iw)
}

// recordRetention records the retention policy in force in the manifest of
// loc's topic (a daemon only; one-shot runs apply no retention).
func (b *backup) recordRetention(ctx context.Context, lease *store.Lease, loc store.Loc) error {
	if b.opts.Once || loc.Version == 0 {
		return nil
	}
	want := ""
	if b.opts.Retention > 0 {
		want = b.opts.Retention.String()
	}
	m, err := b.st.ReadManifest(ctx, loc.Topic)
	if err != nil || m.Retention == want {
		return err
	}
	_, err = b.st.UpdateManifest(ctx, lease, func(m *store.Manifest) error {
		m.Retention = want
		return nil
	})
	return err
}

// cutReason tells whether t's snapshot should be cut now, and the requests
// that asked for it, if any.
func (b *backup) cutReason(ctx context.Context, t *topicRun) (reason string, reqs []*store.SnapshotRequest) {
	reqs, err := b.st.SnapshotRequests(ctx, t.name)
	switch {
	case err != nil:
		b.opts.Logger.Warn("cannot read snapshot requests", "topic", t.name, "err", err)
	case len(reqs) > 0:
		return "snapshot create", reqs
	}
	if b.opts.SnapshotEvery <= 0 {
		return "", nil
	}
	created, ok := b.admin.created[t.loc]
	if !ok {
		m, err := b.st.ReadManifest(ctx, t.name)
		if err != nil {
			b.opts.Logger.Warn("cannot read manifest", "topic", t.name, "err", err)
			return "", nil
		}
		if s, found := m.Get(t.loc.Version); found {
			created = s.Created
		}
		b.admin.created[t.loc] = created
	}
	if time.Since(created) >= b.opts.SnapshotEvery && t.holdsRecords() {
		// An idle topic's version stays open: cutting it would leave an
		// empty version (and restores and the mount's latest/ on it).
		return "scheduled (snapshot every " + b.opts.SnapshotEvery.String() + ")", nil
	}
	return "", nil
}

// holdsRecords reports whether t's version holds any committed record: in
// its index (from earlier runs too) or committed by this run.
func (t *topicRun) holdsRecords() bool {
	if t.records.Load() > 0 {
		return true
	}
	t.imu.Lock()
	defer t.imu.Unlock()
	for p := range t.parts {
		if ps, ok := t.iw.Summary(p); ok && ps.Records > 0 {
			return true
		}
	}
	return false
}

// cutSnapshot ends t's snapshot at the current fetch position and continues
// the topic into the next version with the same topic ID and lease. The
// consumer is left alone: the records it fetches next go to the new run's
// writers, which start exactly where the old ones stopped, so consecutive
// versions hold consecutive, gap-free offset ranges.
func (b *backup) cutSnapshot(ctx context.Context, t *topicRun, live kafka.Topic, reason string) (_ *topicRun, err error) {
	err = t.stop() // rolls every open segment into the old version
	t.unwatch()
	// t's writers are closed now: it must never be stopped again.
	delete(b.topics, t.name)
	b.done = append(b.done, t)
	defer func() {
		if err != nil {
			_ = t.lease.Release(b.wctx)
		}
	}()
	if err != nil {
		return nil, err
	}
	ix, err := b.st.ReadIndex(ctx, t.loc)
	if err != nil {
		return nil, err
	}
	starts := ix.NextOffsets(t.resume)
	for p, w := range t.parts {
		if _, ok := starts[p]; ok || w.next > 0 {
			starts[p] = max(starts[p], w.next)
		}
	}
	var v int
	m, err := b.st.UpdateManifest(ctx, t.lease, func(m *store.Manifest) error {
		v, err = m.Cut(time.Now(), reason, starts)
		return err
	})
	if err != nil {
		return nil, err
	}
	loc := store.Loc{Topic: t.name, Version: v}
	iw, err := b.st.OpenIndexWriter(ctx, t.lease, loc)
	if err != nil {
		return nil, err
	}
	nt := b.newTopicRun(live, loc, t.lease, iw, starts)
	b.topics[t.name] = nt
	b.admin.created[nt.loc] = m.ActiveSnapshot().Created
	nt.start(ctx, live.Partitions, nil) // partitions are already being consumed
	b.opts.Logger.Info("cut snapshot", "topic", t.name, "archived", t.loc.String(), "active", nt.loc.String(), "reason", reason)
	return nt, nil
}

// startOffsets returns the start offsets the manifest records for loc's
// version (nil for the flat layout and for versions that start at the
// beginning of the log).
func startOffsets(ctx context.Context, st *store.Store, loc store.Loc) (map[int32]int64, error) {
	if loc.Version == 0 {
		return nil, nil
	}
	m, err := st.ReadManifest(ctx, loc.Topic)
	if err != nil {
		return nil, err
	}
	if s, ok := m.Get(loc.Version); ok {
		return s.StartOffsets, nil
	}
	return nil, nil
}
