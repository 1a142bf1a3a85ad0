package backup

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/kbackup/kbackup/store"
)

// RetentionResult lists what a retention pass deleted.
type RetentionResult struct {
	Topic string `json:"topic" yaml:"topic"`
	// Deleted are the object keys removed, in order.
	Deleted []string `json:"deleted" yaml:"deleted"`
	Bytes   int64    `json:"bytes" yaml:"bytes"`
}

// Expirer records retention's decision in one snapshot's index
// (store.IndexWriter.Expire).
type Expirer interface {
	Expire(ctx context.Context, before map[int32]int64, at time.Time) error
}

// ApplyRetention applies the retention policy to every snapshot of the
// lease's topic at now: in each partition, the oldest segments whose newest
// record is older than policy are expired, in offset order, stopping at the
// first one that is not (Kafka's own retention deletes from the start of
// the log the same way). The policy applies to every segment, whenever it
// was written. Segments a format 1 writer gave an expiry time are expired
// at that time too.
//
// The decision is recorded in the snapshot's index first (a fenced write,
// through open), and only then are the objects deleted, so a process that
// lost the lease can delete nothing that its successor did not decide to
// delete; a pass cut short is finished by the next one. Only indexed
// segments are candidates, so the open segment of a running backup is never
// touched; the entries stay in the index, where Expired tells readers that
// the data is gone. A reader that opened a segment before it was deleted
// gets an error wrapping store.ErrNotFound on its next read, never partial
// data.
func ApplyRetention(ctx context.Context, st *store.Store, lease *store.Lease, policy time.Duration, now time.Time,
	open func(ctx context.Context, loc store.Loc) (Expirer, error)) (*RetentionResult, error) {
	topic := lease.Topic()
	m, err := st.ReadManifest(ctx, topic)
	if err != nil {
		return nil, err
	}
	res := &RetentionResult{Topic: topic, Deleted: []string{}}
	for _, s := range m.Snapshots {
		loc := store.Loc{Topic: topic, Version: s.Version}
		if err := retainSnapshot(ctx, st, lease, loc, policy, now, open, res); err != nil {
			return res, fmt.Errorf("retention of %s: %w", loc, err)
		}
		// Consumer-group captures older than the policy go too, but for
		// the newest of them (store.PruneGroupCaptures).
		if policy <= 0 {
			continue
		}
		pruned, err := st.PruneGroupCaptures(ctx, lease, loc, now.Add(-policy))
		res.Deleted = append(res.Deleted, pruned...)
		if err != nil {
			return res, fmt.Errorf("retention of %s: %w", loc, err)
		}
	}
	return res, nil
}

func retainSnapshot(ctx context.Context, st *store.Store, lease *store.Lease, loc store.Loc, policy time.Duration, now time.Time,
	open func(ctx context.Context, loc store.Loc) (Expirer, error), res *RetentionResult) error {
	ix, err := st.ReadIndex(ctx, loc)
	if store.IsNotFound(err) {
		return nil // nothing indexed yet
	}
	if err != nil {
		return err
	}
	listed, err := st.ListSegments(ctx, loc)
	if err != nil {
		return err
	}
	before, doomed := expiredSegments(ix, policy, now)
	if len(before) > 0 {
		x, err := open(ctx, loc)
		if err != nil {
			return err
		}
		if err := x.Expire(ctx, before, now); err != nil {
			return err
		}
	}
	sort.Slice(doomed, func(i, j int) bool { return doomed[i].ULID < doomed[j].ULID })
	for _, e := range doomed {
		if _, present := listed[e.ULID]; !present {
			continue
		}
		if err := st.DeleteSegment(ctx, lease, loc, e.ULID); err != nil {
			return err
		}
		res.Deleted = append(res.Deleted, loc.SegmentKey(e.ULID))
		res.Bytes += e.StoredBytes
	}
	return nil
}

// expiredSegments returns, per partition, the offset the policy expires
// segments before when that moves the index's mark forward, and every entry
// expired at now (by the policy or by an expiry already recorded).
func expiredSegments(ix *store.Index, policy time.Duration, now time.Time) (map[int32]int64, []store.SegmentEntry) {
	before := map[int32]int64{}
	var doomed []store.SegmentEntry
	for _, p := range ix.PartitionIDs() {
		es := ix.Partition(p)
		cut := 0
		for policy > 0 && cut < len(es) && !es[cut].MaxTimestamp.Add(policy).After(now) {
			cut++
		}
		if cut > 0 && es[cut-1].NextOffset > ix.Partitions[p].ExpiredBefore {
			before[p] = es[cut-1].NextOffset
		}
		for i := range es {
			if i < cut || es[i].Expired(now) {
				doomed = append(doomed, es[i])
			}
		}
	}
	return before, doomed
}
