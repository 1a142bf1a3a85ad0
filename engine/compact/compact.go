package compact

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/kbackup/kbackup/store"
)

// DefaultSegmentBytes is the merged segments' target size when
// Options.SegmentBytes is zero: the backup's default segment size.
const DefaultSegmentBytes = 64 << 20

// Options configure Compact and Held.
type Options struct {
	// Snapshot selects the version ("" or "latest": the active one);
	// Compact only.
	Snapshot string
	// SegmentBytes is the largest merged segment, in stored bytes
	// (default DefaultSegmentBytes). Segments of half of it or more are
	// left as they are.
	SegmentBytes int64
	// Fanout, when 2 or more, merges only balanced runs: runs at least
	// Fanout times their largest segment. A daemon compacting as data
	// arrives then rewrites each record at most log_Fanout(SegmentBytes /
	// segment size) times in all, where merging every run would rewrite
	// the growing merged segment at every pass. 0 merges every run
	// (one-off compaction of data already written).
	Fanout int
	// Grace is how long replaced segments stay in storage after the index
	// stopped naming them, for readers that opened the old index.
	Grace time.Duration
	// Switched, if set, is called once the index names the merged
	// segments, before the grace period: the daemon lets another topic
	// compact from there.
	Switched func()
	// Holder names this process in the lease (default "kbackup index compact").
	Holder string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger

	// after, in tests, is called after each step; an error stops Compact
	// there as a kill would.
	after func(step string) error
}

// Report tells what a compaction did.
type Report struct {
	Topic    string `json:"topic" yaml:"topic"`
	Snapshot int    `json:"snapshot" yaml:"snapshot"`
	// Before and After count the index's segments.
	Before int `json:"segments_before" yaml:"segments_before"`
	After  int `json:"segments_after" yaml:"segments_after"`
	// Merged is how many new segments were written.
	Merged int `json:"merged" yaml:"merged"`
	// Deleted are the object keys removed: replaced segments and leftovers
	// of an interrupted compaction.
	Deleted []string `json:"deleted" yaml:"deleted"`
}

// Indexer changes the index of the snapshot being compacted: a
// store.IndexWriter, or the daemon's topic run, which serialises the change
// with the segments it commits meanwhile.
type Indexer interface {
	// Replace calls fn with the index as it is and replaces the index with
	// the entries fn returns, with no other change in between.
	Replace(ctx context.Context, fn func(ix *store.Index) ([]store.SegmentEntry, error)) error
}

func (o *Options) defaults() {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.Holder == "" {
		o.Holder = "kbackup index compact"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.after == nil {
		o.after = func(string) error { return nil }
	}
}

// Compact merges the small adjacent segments of one snapshot of topic (see
// the package documentation for the steps). It takes the topic's lease, so
// a running backup of the topic must be stopped first: the error then
// wraps store.ErrLeaseHeld. It may be run again at any time; a run that was
// interrupted is finished by the next.
func Compact(ctx context.Context, st *store.Store, topic string, opts Options) (*Report, error) {
	opts.defaults()
	v, _, err := st.ResolveSnapshot(ctx, topic, opts.Snapshot)
	if err != nil {
		return nil, err
	}
	loc := store.Loc{Topic: topic, Version: v}
	lease, err := st.AcquireLease(ctx, topic, opts.Holder, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	iw, err := st.OpenIndexWriter(ctx, lease, loc)
	if err != nil {
		return nil, fmt.Errorf("compact %s: %w", loc, err)
	}
	c := newCompaction(st, lease, loc, iw, opts)
	if err := c.run(ctx, true); err != nil {
		return c.rep, fmt.Errorf("compact %s: %w", loc, err)
	}
	return c.rep, nil
}

// Held merges the small adjacent segments of snapshot loc like Compact,
// under lease, which the caller holds and renews: the backup daemon,
// compacting the topics it backs up while it writes them. ix is how the
// index changes. Unlike Compact it leaves segments the index does not name
// alone (the daemon's own uploads are among them until it commits them;
// its recovery at start deletes a crash's leftovers).
func Held(ctx context.Context, st *store.Store, lease *store.Lease, loc store.Loc, ix Indexer, opts Options) (*Report, error) {
	opts.defaults()
	c := newCompaction(st, lease, loc, ix, opts)
	if err := c.run(ctx, false); err != nil {
		return c.rep, fmt.Errorf("compact %s: %w", loc, err)
	}
	return c.rep, nil
}

// compaction is one run of Compact or Held.
type compaction struct {
	st    *store.Store
	lease *store.Lease
	loc   store.Loc
	ix    Indexer
	opts  Options
	rep   *Report
}

func newCompaction(st *store.Store, lease *store.Lease, loc store.Loc, ix Indexer, opts Options) *compaction {
	return &compaction{st: st, lease: lease, loc: loc, ix: ix, opts: opts,
		rep: &Report{Topic: loc.Topic, Snapshot: loc.Version, Deleted: []string{}}}
}

func (c *compaction) run(ctx context.Context, leftovers bool) error {
	ix, err := c.st.ReadIndex(ctx, c.loc)
	if store.IsNotFound(err) {
		return nil // nothing indexed yet
	}
	if err != nil {
		return err
	}
	c.rep.Before, c.rep.After = len(ix.Segments), len(ix.Segments)
	if leftovers {
		if err := c.deleteLeftovers(ctx, ix); err != nil {
			return err
		}
		if err := c.opts.after("leftovers"); err != nil {
			return err
		}
	}
	runs := plan(ix.Segments, c.opts.SegmentBytes, c.opts.Fanout)
	if len(runs) == 0 {
		return nil
	}
	merged := make([]store.SegmentEntry, len(runs))
	ids := make([][]string, len(runs))
	for i, r := range runs {
		for _, e := range ix.Segments[r.from:r.to] {
			ids[i] = append(ids[i], e.ULID)
		}
		if merged[i], err = c.merge(ctx, ix.Segments[r.from:r.to]); err != nil {
			return err
		}
		c.rep.Merged++
		if err := c.opts.after("merged"); err != nil {
			return err
		}
	}
	var replaced, unused []string
	err = c.ix.Replace(ctx, func(cur *store.Index) ([]store.SegmentEntry, error) {
		var entries []store.SegmentEntry
		entries, replaced, unused = resplice(cur.Segments, ids, merged)
		c.rep.Before, c.rep.After = len(cur.Segments), len(entries)
		return entries, nil
	})
	if err != nil {
		return err
	}
	c.opts.Logger.Info("index switched to merged segments", "snapshot", c.loc.String(), "before", c.rep.Before, "after", c.rep.After)
	if c.opts.Switched != nil {
		c.opts.Switched()
	}
	if err := c.opts.after("switched"); err != nil {
		return err
	}
	// Merged segments whose run changed meanwhile (retention expired a
	// part of it) were never indexed: no reader knows them.
	if err := c.delete(ctx, unused); err != nil {
		return err
	}
	if err := c.wait(ctx); err != nil {
		return err
	}
	return c.delete(ctx, replaced)
}

// delete deletes the segments ids of the snapshot.
func (c *compaction) delete(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if err := c.st.DeleteSegment(ctx, c.lease, c.loc, id); err != nil {
			return err
		}
		c.rep.Deleted = append(c.rep.Deleted, c.loc.SegmentKey(id))
		if err := c.opts.after("deleted"); err != nil {
			return err
		}
	}
	return nil
}

// wait sleeps the grace period, ending early with ctx or the lease.
func (c *compaction) wait(ctx context.Context) error {
	if c.opts.Grace <= 0 {
		return nil
	}
	lctx, cancel := c.lease.Context(ctx)
	defer cancel()
	t := time.NewTimer(c.opts.Grace)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-lctx.Done():
		if err := c.lease.Err(); err != nil {
			return err
		}
		return lctx.Err()
	}
}
