package backup

import (
	"context"
	"time"

	"github.com/kbackup/kbackup/engine/compact"
	"github.com/kbackup/kbackup/store"
)

// compactFanout is the daemon's merge balance (compact.Options.Fanout): a
// run is merged once it is at least 4 times its largest segment, so each
// record is rewritten at most log4(segment bytes / rolled segment size)
// times; a year of 1-3 KiB segments rolled every minute ends in 32
// objects, each byte rewritten 4.6 times (compact's TestBalancedYear).
const compactFanout = 4

// compactPass is one topic's compaction pass running in the background.
type compactPass struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// compactHook starts a compaction pass of t's topic when CompactInterval
// has passed since the last one, or since the daemon took the topic. Passes
// run in the background, one topic at a time in the process; a topic's
// pass ends when the topic stops (topicRun.stop).
func (b *backup) compactHook(ctx context.Context, t *topicRun) {
	if b.opts.NoCompact {
		return
	}
	last, seen := b.admin.compacted[t.name]
	if !seen {
		b.admin.compacted[t.name] = time.Now()
		return
	}
	if time.Since(last) < b.opts.CompactInterval {
		return
	}
	if p := t.compacting; p != nil {
		select {
		case <-p.done:
		default:
			return // the last pass is still running
		}
	}
	b.admin.compacted[t.name] = time.Now()
	cctx, cancel := t.lease.Context(ctx)
	p := &compactPass{cancel: cancel, done: make(chan struct{})}
	t.compacting = p
	go func() {
		defer close(p.done)
		defer cancel()
		t.compactAll(cctx)
	}()
}

// stopCompaction ends t's compaction pass, if one runs, and waits for it.
// Merged segments it wrote but did not index yet are left to the next
// start's orphan recovery, like every crash's.
func (t *topicRun) stopCompaction() {
	if p := t.compacting; p != nil {
		p.cancel()
		<-p.done
	}
}

// compactAll merges the small segments of every snapshot of t's topic. A
// failed pass is logged and tried again at the next interval.
func (t *topicRun) compactAll(ctx context.Context) {
	b := t.b
	m, err := b.st.ReadManifest(ctx, t.name)
	if err != nil {
		b.opts.Logger.Warn("compaction: cannot read the manifest (retrying later)", "topic", t.name, "err", err)
		return
	}
	for _, s := range m.Snapshots {
		loc := store.Loc{Topic: t.name, Version: s.Version}
		var ix compact.Indexer = t
		if loc != t.loc {
			ix = &archivedIndex{t: t, loc: loc}
		}
		released := false
		select {
		case b.compactSlot <- struct{}{}:
		case <-ctx.Done():
			return
		}
		release := func() {
			if !released {
				released = true
				<-b.compactSlot
			}
		}
		rep, err := compact.Held(ctx, b.st, t.lease, loc, ix, compact.Options{
			SegmentBytes: b.opts.SegmentBytes, Fanout: compactFanout, Grace: b.opts.CompactGrace,
			Switched: release,
		})
		release()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			b.opts.Logger.Warn("compaction failed (retrying later)", "topic", t.name, "snapshot", loc.String(), "err", err)
		case rep.Merged > 0:
			b.opts.Logger.Info("compacted small segments", "topic", t.name, "snapshot", loc.String(),
				"before", rep.Before, "after", rep.After, "deleted", len(rep.Deleted))
		}
	}
}

// Replace changes the active snapshot's index for compaction, between the
// segment commits (compact.Indexer).
func (t *topicRun) Replace(ctx context.Context, fn func(ix *store.Index) ([]store.SegmentEntry, error)) error {
	t.imu.Lock()
	defer t.imu.Unlock()
	return t.iw.Replace(ctx, fn)
}

// archivedIndex is the index of a snapshot of t's topic that t no longer
// writes, taken over (store.OpenIndexWriter) only when compaction has
// something to change in it, under t's index lock like every index change
// of the topic (archived).
type archivedIndex struct {
	t   *topicRun
	loc store.Loc
}

// Replace implements compact.Indexer.
func (a *archivedIndex) Replace(ctx context.Context, fn func(ix *store.Index) ([]store.SegmentEntry, error)) error {
	return a.t.archived(ctx, a.loc, func(iw *store.IndexWriter) error { return iw.Replace(ctx, fn) })
}
