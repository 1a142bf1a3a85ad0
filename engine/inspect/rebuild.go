package inspect

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/kbackup/kbackup/store"
)

// RebuildOptions configures RebuildIndex.
type RebuildOptions struct {
	// Snapshot selects the version ("" or "latest": the active one).
	Snapshot string
	// DryRun reports what would be written without writing the index.
	DryRun bool
	// Holder names this process in the lease (default "kbackup index rebuild").
	Holder string
}

// SkippedSegment is a segment object left out of a rebuilt index, and why.
type SkippedSegment struct {
	Object string `json:"object" yaml:"object"`
	Reason string `json:"reason" yaml:"reason"`
}

// RebuildReport tells what an index rebuild recovered and what it could not.
type RebuildReport struct {
	Topic    string           `json:"topic" yaml:"topic"`
	Snapshot int              `json:"snapshot" yaml:"snapshot"`
	Segments int              `json:"segments" yaml:"segments"`
	Records  int64            `json:"records" yaml:"records"`
	Skipped  []SkippedSegment `json:"skipped" yaml:"skipped"`
	// Gaps lists offset ranges no surviving segment covers (for example
	// segments deleted by retention): "partition 0: offsets 100-199".
	Gaps    []string `json:"gaps" yaml:"gaps"`
	Written bool     `json:"written" yaml:"written"`

	entries []store.SegmentEntry
}

// RebuildIndex recreates the index of one snapshot of topic from its segment
// objects alone: every object is read whole, its footer and block checksums
// checked, and its entry rebuilt from the footer. Unreadable or damaged
// segments and segments overlapping an earlier one are skipped and reported.
// It takes the topic's lease (renewed while it reads), so a running backup
// of the topic must be stopped first (the error then wraps
// store.ErrLeaseHeld). The new index is written under new keys and switched
// to with one fenced head write, so a rebuild stopped at any moment leaves
// the old index whole. Retention needs nothing from the old index: the
// policy in force (the manifest's) applies to the rebuilt entries.
func RebuildIndex(ctx context.Context, st *store.Store, topic string, opts RebuildOptions) (*RebuildReport, error) {
	if opts.Holder == "" {
		opts.Holder = "kbackup index rebuild"
	}
	v, m, err := st.ResolveSnapshot(ctx, topic, opts.Snapshot)
	if err != nil {
		return nil, err
	}
	loc := store.Loc{Topic: topic, Version: v}
	var starts map[int32]int64
	if s, ok := m.Get(v); ok {
		starts = s.StartOffsets
	}
	var lease *store.Lease
	if !opts.DryRun {
		if lease, err = st.AcquireLease(ctx, topic, opts.Holder, 0); err != nil {
			return nil, err
		}
		defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	}
	rep, err := scanForRebuild(ctx, st, loc)
	if err != nil {
		return nil, err
	}
	rep.Gaps = gaps(rep.entries, starts)
	if opts.DryRun {
		return rep, nil
	}
	if err := st.WriteIndex(ctx, lease, loc, rep.entries); err != nil {
		return nil, fmt.Errorf("write index of %s: %w", loc, err)
	}
	rep.Written = true
	return rep, nil
}

// scanForRebuild reads every segment object of loc and returns the entries
// of the sound ones, in partition and offset order.
func scanForRebuild(ctx context.Context, st *store.Store, loc store.Loc) (*RebuildReport, error) {
	listed, err := st.ListSegments(ctx, loc)
	if err != nil {
		return nil, err
	}
	rep := &RebuildReport{Topic: loc.Topic, Snapshot: loc.Version, Skipped: []SkippedSegment{}, Gaps: []string{}}
	var all []store.SegmentEntry
	for _, id := range sortedIDs(listed) {
		sc, err := st.CheckSegment(ctx, loc, id, listed[id])
		if store.IsNotFound(err) {
			continue // deleted meanwhile
		}
		if errors.Is(err, store.ErrCorrupt) {
			rep.Skipped = append(rep.Skipped, SkippedSegment{Object: loc.SegmentKey(id), Reason: err.Error()})
			continue
		}
		if err != nil {
			return nil, err
		}
		all = append(all, sc.Entry(id))
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Partition != all[j].Partition {
			return all[i].Partition < all[j].Partition
		}
		return all[i].StartOffset < all[j].StartOffset
	})
	next := map[int32]int64{}
	seen := map[int32]bool{}
	for _, e := range all {
		if seen[e.Partition] && e.StartOffset < next[e.Partition] {
			rep.Skipped = append(rep.Skipped, SkippedSegment{Object: loc.SegmentKey(e.ULID),
				Reason: fmt.Sprintf("overlaps an earlier segment of partition %d (starts at %d, previous ends at %d): a leftover duplicate", e.Partition, e.StartOffset, next[e.Partition])})
			continue
		}
		seen[e.Partition], next[e.Partition] = true, e.NextOffset
		rep.entries = append(rep.entries, e)
		rep.Segments++
		rep.Records += e.Records
	}
	return rep, nil
}

// gaps lists the offset ranges between consecutive rebuilt entries of a
// partition (and before the first, when the version's start is known).
func gaps(entries []store.SegmentEntry, starts map[int32]int64) []string {
	out := []string{}
	for _, b := range store.Breaks(entries, starts) {
		if e := &entries[b.Entry]; e.StartOffset > b.Want {
			out = append(out, fmt.Sprintf("partition %d: offsets %d-%d", e.Partition, b.Want, e.StartOffset-1))
		}
	}
	return out
}

// sortedIDs returns the keys of a segment listing in order.
func sortedIDs(listed map[string]int64) []string {
	ids := make([]string, 0, len(listed))
	for id := range listed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
