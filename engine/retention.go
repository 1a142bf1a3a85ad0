package engine

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

// ApplyRetention deletes the segment objects of every snapshot of topic
// whose index entry has expired at now (SegmentEntry.Expired). Only indexed
// segments are candidates, so the open segment of a running backup is never
// touched; the entries stay in the index, where Expired tells readers that
// the data is gone. A reader that opened a segment before it was deleted
// gets an error wrapping store.ErrNotFound on its next read, never partial
// data. The caller must hold the topic's lease or be the only writer.
func ApplyRetention(ctx context.Context, st *store.Store, topic string, now time.Time) (*RetentionResult, error) {
	m, err := st.ReadManifest(ctx, topic)
	if err != nil {
		return nil, err
	}
	res := &RetentionResult{Topic: topic, Deleted: []string{}}
	for _, s := range m.Snapshots {
		if err := retainSnapshot(ctx, st, store.Loc{Topic: topic, Version: s.Version}, now, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func retainSnapshot(ctx context.Context, st *store.Store, loc store.Loc, now time.Time, res *RetentionResult) error {
	ix, err := st.ReadIndex(ctx, loc)
	if store.IsNotFound(err) {
		return nil // nothing indexed yet
	}
	if err != nil {
		return fmt.Errorf("retention of %s: %w", loc, err)
	}
	listed, err := st.ListSegments(ctx, loc)
	if err != nil {
		return fmt.Errorf("retention of %s: %w", loc, err)
	}
	var expired []store.SegmentEntry
	for _, e := range ix.Segments {
		if _, present := listed[e.ULID]; present && e.Expired(now) {
			expired = append(expired, e)
		}
	}
	sort.Slice(expired, func(i, j int) bool { return expired[i].ULID < expired[j].ULID })
	for _, e := range expired {
		if err := st.DeleteSegment(ctx, loc, e.ULID); err != nil {
			return fmt.Errorf("retention of %s: %w", loc, err)
		}
		res.Deleted = append(res.Deleted, loc.SegmentKey(e.ULID))
		res.Bytes += e.StoredBytes
	}
	return nil
}
