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

// Options configure Compact.
type Options struct {
	// Snapshot selects the version ("" or "latest": the active one).
	Snapshot string
	// SegmentBytes is the largest merged segment, in stored bytes
	// (default DefaultSegmentBytes). Segments of half of it or more are
	// left as they are.
	SegmentBytes int64
	// Grace is how long replaced segments stay in storage after the index
	// stopped naming them, for readers that opened the old index.
	Grace time.Duration
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

// Compact merges the small adjacent segments of one snapshot of topic (see
// the package documentation for the steps). It takes the topic's lease, so
// a running backup of the topic must be stopped first: the error then
// wraps store.ErrLeaseHeld. It may be run again at any time; a run that was
// interrupted is finished by the next.
func Compact(ctx context.Context, st *store.Store, topic string, opts Options) (*Report, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.Holder == "" {
		opts.Holder = "kbackup index compact"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.after == nil {
		opts.after = func(string) error { return nil }
	}
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
	c := &compaction{st: st, lease: lease, loc: loc, opts: opts,
		rep: &Report{Topic: topic, Snapshot: v, Deleted: []string{}}}
	if err := c.run(ctx); err != nil {
		return c.rep, fmt.Errorf("compact %s: %w", loc, err)
	}
	return c.rep, nil
}

// compaction is one run of Compact.
type compaction struct {
	st    *store.Store
	lease *store.Lease
	loc   store.Loc
	opts  Options
	rep   *Report
}

func (c *compaction) run(ctx context.Context) error {
	iw, err := c.st.OpenIndexWriter(ctx, c.lease, c.loc)
	if err != nil {
		return err
	}
	ix, err := c.st.ReadIndex(ctx, c.loc)
	if store.IsNotFound(err) {
		return nil // nothing indexed yet
	}
	if err != nil {
		return err
	}
	c.rep.Before, c.rep.After = len(ix.Segments), len(ix.Segments)
	if err := c.deleteLeftovers(ctx, ix); err != nil {
		return err
	}
	if err := c.opts.after("leftovers"); err != nil {
		return err
	}
	runs := plan(ix.Segments, c.opts.SegmentBytes)
	if len(runs) == 0 {
		return nil
	}
	merged := make([]store.SegmentEntry, len(runs))
	for i, r := range runs {
		if merged[i], err = c.merge(ctx, ix.Segments[r.from:r.to]); err != nil {
			return err
		}
		c.rep.Merged++
		if err := c.opts.after("merged"); err != nil {
			return err
		}
	}
	entries, replaced := splice(ix.Segments, runs, merged)
	if err := iw.Rewrite(ctx, entries); err != nil {
		return err
	}
	c.rep.After = len(entries)
	c.opts.Logger.Info("index switched to merged segments", "snapshot", c.loc.String(), "before", c.rep.Before, "after", c.rep.After)
	if err := c.opts.after("switched"); err != nil {
		return err
	}
	if err := c.wait(ctx); err != nil {
		return err
	}
	for _, id := range replaced {
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
