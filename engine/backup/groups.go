package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// GroupObserver, when the Options.Observer implements it too, learns of
// every consumer-group capture (metrics).
type GroupObserver interface {
	// GroupsCaptured: one capture pass ended. groups is the number of
	// selected groups, stored the number of topics whose capture was
	// stored (unchanged ones are skipped); err is nil unless the pass or
	// one topic's store failed.
	GroupsCaptured(groups, stored int, took time.Duration, err error)
}

// minCaptureTimeout bounds a capture that runs more often than this.
const minCaptureTimeout = 30 * time.Second

// captureTarget is a topic whose groups are captured, in the snapshot it
// is backed up into, under its lease.
type captureTarget struct {
	topic string
	loc   store.Loc
	lease *store.Lease
}

// groupCapturer captures the committed offsets of the consumer groups that
// read the backed-up topics. At most one capture runs at a time, in a
// goroutine of its own so that a slow coordinator never holds the data
// backup up; the Run goroutine waits for it before releasing leases.
type groupCapturer struct {
	b     *backup
	match *matcher

	running atomic.Bool
	wg      sync.WaitGroup

	// last is the newest capture stored (or read back) per snapshot; only
	// the capture in progress touches it.
	last map[store.Loc][]store.GroupOffset
}

// newGroupCapturer returns the capturer of opts' groups, nil when
// captures are off.
func newGroupCapturer(b *backup) (*groupCapturer, error) {
	if b.opts.NoGroups {
		return nil, nil
	}
	inc := b.opts.Groups
	if len(inc) == 0 {
		inc = []string{".*"} // every group, internal names included
	}
	m, err := newMatcher(inc, b.opts.ExcludeGroups)
	if err != nil {
		return nil, fmt.Errorf("consumer group selection: %w", err)
	}
	return &groupCapturer{b: b, match: m, last: map[store.Loc][]store.GroupOffset{}}, nil
}

// targets lists the topics being backed up; called by the Run goroutine.
func (g *groupCapturer) targets() []captureTarget {
	out := make([]captureTarget, 0, len(g.b.topics))
	for _, t := range g.b.topics {
		out = append(out, captureTarget{topic: t.name, loc: t.loc, lease: t.lease})
	}
	return out
}

// start begins a capture in the background unless one is running.
func (g *groupCapturer) start(ctx context.Context) {
	if g == nil || !g.running.CompareAndSwap(false, true) {
		return
	}
	ts := g.targets()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer g.running.Store(false)
		g.capture(ctx, ts)
	}()
}

// wait waits for the capture in progress, if any.
func (g *groupCapturer) wait() {
	if g != nil {
		g.wg.Wait()
	}
}

// now captures in the calling goroutine (the end of a one-shot run),
// after any background capture.
func (g *groupCapturer) now(ctx context.Context) {
	if g == nil {
		return
	}
	g.wait()
	g.capture(ctx, g.targets())
}

// capture stores, per target topic, the committed offsets of the selected
// groups on it with each partition's log range. Failures are logged and
// reported to the observer: they never stop the data backup.
func (g *groupCapturer) capture(ctx context.Context, ts []captureTarget) {
	if len(ts) == 0 {
		return
	}
	start := time.Now()
	// A coordinator that never answers must not stop captures for good:
	// start skips a capture while one runs.
	cctx, cancel := context.WithTimeout(ctx, max(g.b.opts.GroupInterval, minCaptureTimeout))
	defer cancel()
	groups, stored, err := g.captureOnce(cctx, ts)
	if err != nil && ctx.Err() != nil {
		return // the daemon is stopping: not a failure
	}
	if err != nil {
		g.b.opts.Logger.Warn("consumer-group capture failed (the data backup goes on; retrying at the next interval)", "err", err)
	} else {
		g.b.opts.Logger.Debug("consumer groups captured", "groups", groups, "stored", stored, "took", time.Since(start))
	}
	if o, ok := g.b.opts.Observer.(GroupObserver); ok {
		o.GroupsCaptured(groups, stored, time.Since(start), err)
	}
}

func (g *groupCapturer) captureOnce(ctx context.Context, ts []captureTarget) (groups, stored int, err error) {
	all, err := g.b.adm.Groups(ctx)
	if err != nil {
		return 0, 0, err
	}
	var sel []string
	for _, n := range all {
		if g.match.match(n) {
			sel = append(sel, n)
		}
	}
	offs, err := g.b.adm.CommittedOffsets(ctx, sel)
	if err != nil {
		return len(sel), 0, err
	}
	if len(offs.Denied) > 0 {
		g.b.opts.Logger.Warn("not authorized to read the offsets of some consumer groups; they are not captured", "groups", offs.Denied)
	}
	var topics []string // those some group committed on
	for _, t := range ts {
		if len(offs.Offsets[t.topic]) > 0 {
			topics = append(topics, t.topic)
		}
	}
	var starts, ends map[string]map[int32]int64
	if len(topics) > 0 {
		if starts, ends, err = g.b.adm.LogRanges(ctx, topics); err != nil {
			return len(sel), 0, err
		}
	}
	now := time.Now().UTC()
	var errs []error
	for _, t := range ts {
		c := store.GroupCapture{Time: now, Offsets: captured(offs.Offsets[t.topic], starts[t.topic], ends[t.topic])}
		ok, err := g.store(ctx, t, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("topic %s: %w", t.topic, err))
		} else if ok {
			stored++
		}
	}
	return len(sel), stored, errors.Join(errs...)
}

// captured turns a topic's committed offsets into a capture's, with each
// partition's log range (-1 when unknown).
func captured(cs []kafka.CommittedOffset, starts, ends map[int32]int64) []store.GroupOffset {
	out := make([]store.GroupOffset, 0, len(cs))
	for _, c := range cs {
		o := store.GroupOffset{Group: c.Group, Partition: c.Partition, Offset: c.Offset, LeaderEpoch: c.LeaderEpoch,
			Metadata: c.Metadata, LogStart: -1, LogEnd: -1}
		if s, ok := starts[c.Partition]; ok {
			o.LogStart = s
		}
		if e, ok := ends[c.Partition]; ok {
			o.LogEnd = e
		}
		out = append(out, o)
	}
	return out
}

// store stores c into t's snapshot unless it equals the newest capture
// stored there (read back once per snapshot), or it is empty and there is
// none: a restore as of any time then finds the same offsets. It reports
// whether it stored c.
func (g *groupCapturer) store(ctx context.Context, t captureTarget, c store.GroupCapture) (bool, error) {
	prev, known := g.last[t.loc]
	if !known {
		pc, err := g.b.st.GroupCaptureAt(ctx, t.loc, time.Time{})
		switch {
		case errors.Is(err, store.ErrNotFound):
		case errors.Is(err, store.ErrCorrupt):
			known = true // verify reports it; the next capture supersedes it
		case err != nil:
			return false, err
		default:
			prev, known = pc.Offsets, true
		}
	}
	if known && slices.Equal(prev, c.Offsets) || !known && len(c.Offsets) == 0 {
		g.last[t.loc] = c.Offsets
		return false, nil
	}
	if err := g.b.st.PutGroupCapture(ctx, t.lease, t.loc, c); err != nil {
		return false, err
	}
	g.last[t.loc] = c.Offsets
	return true, nil
}
