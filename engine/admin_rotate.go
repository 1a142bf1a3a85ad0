package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// adminState is the backup daemon's bookkeeping for the admin hooks
// (snapshot requests, --snapshot-every, retention). Only the Backup
// goroutine touches it.
type adminState struct {
	created  map[store.Loc]time.Time // creation time of active snapshots, for --snapshot-every
	retained map[string]time.Time    // last retention pass per topic
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
	if b.admin.created == nil {
		b.admin = adminState{created: map[store.Loc]time.Time{}, retained: map[string]time.Time{}}
	}
	reason, token := b.cutReason(ctx, t)
	if reason != "" {
		nt, err := b.cutSnapshot(ctx, t, live, reason)
		if err != nil {
			return nil, fmt.Errorf("topic %s: cut snapshot: %w", t.name, err)
		}
		if token != "" {
			if err := b.st.ClearSnapshotRequest(ctx, t.name, token); err != nil {
				b.opts.Logger.Warn("cannot clear snapshot request", "topic", t.name, "err", err)
			}
		}
		t = nt
	}
	if b.opts.Retention > 0 && time.Since(b.admin.retained[t.name]) >= b.opts.RetentionInterval {
		b.admin.retained[t.name] = time.Now()
		res, err := ApplyRetention(ctx, b.st, t.name, time.Now())
		if err != nil {
			b.opts.Logger.Warn("retention pass failed (retrying later)", "topic", t.name, "err", err)
		} else if len(res.Deleted) > 0 {
			b.opts.Logger.Info("retention deleted expired segments", "topic", t.name, "segments", len(res.Deleted), "bytes", res.Bytes)
		}
	}
	return t, nil
}

// cutReason tells whether t's snapshot should be cut now, and the token of
// the request that asked for it, if any.
func (b *backup) cutReason(ctx context.Context, t *topicRun) (reason, token string) {
	req, err := b.st.ReadSnapshotRequest(ctx, t.name)
	switch {
	case err == nil:
		return "snapshot create", req.Token
	case !store.IsNotFound(err):
		b.opts.Logger.Warn("cannot read snapshot request", "topic", t.name, "err", err)
	}
	if b.opts.SnapshotEvery <= 0 {
		return "", ""
	}
	created, ok := b.admin.created[t.loc]
	if !ok {
		m, err := b.st.ReadManifest(ctx, t.name)
		if err != nil {
			b.opts.Logger.Warn("cannot read manifest", "topic", t.name, "err", err)
			return "", ""
		}
		if s, found := m.Get(t.loc.Version); found {
			created = s.Created
		}
		b.admin.created[t.loc] = created
	}
	if time.Since(created) >= b.opts.SnapshotEvery {
		return "scheduled (snapshot every " + b.opts.SnapshotEvery.String() + ")", ""
	}
	return "", ""
}

// cutSnapshot ends t's snapshot at the current fetch position and continues
// the topic into the next version with the same topic ID and lease. The
// consumer is left alone: the records it fetches next go to the new run's
// writers, which start exactly where the old ones stopped, so consecutive
// versions hold consecutive, gap-free offset ranges.
func (b *backup) cutSnapshot(ctx context.Context, t *topicRun, live kafka.Topic, reason string) (_ *topicRun, err error) {
	err = t.stop() // rolls every open segment into the old version
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
	if err != nil && !store.IsNotFound(err) {
		return nil, err
	}
	m, err := b.st.ReadManifest(ctx, t.name)
	if err != nil {
		return nil, err
	}
	starts := carryOffsets(ix, t.resume)
	for p, w := range t.parts {
		if _, ok := starts[p]; ok || w.next > 0 {
			starts[p] = max(starts[p], w.next)
		}
	}
	v, err := cutManifest(m, time.Now(), reason, starts)
	if err != nil {
		return nil, err
	}
	if err := b.st.WriteManifest(ctx, m); err != nil {
		return nil, err
	}
	nt := &topicRun{b: b, name: t.name, loc: store.Loc{Topic: t.name, Version: v}, topicID: t.topicID,
		lease: t.lease, parts: map[int32]*partitionWriter{}, resume: starts}
	if nt.iw, err = b.st.OpenIndexWriter(ctx, nt.loc); err != nil {
		return nil, err
	}
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
