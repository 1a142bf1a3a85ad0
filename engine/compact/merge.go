package compact

import (
	"context"
	"fmt"
	"slices"

	"github.com/kbackup/kbackup/store"
)

// merge writes the records of run, adjacent segments of one partition, as
// one new segment spanning the same fetch range, and returns its entry
// (not yet indexed). The new segment is checked against the run's totals.
func (c *compaction) merge(ctx context.Context, run []store.SegmentEntry) (store.SegmentEntry, error) {
	first, last := &run[0], &run[len(run)-1]
	codec, err := store.ParseCodec(first.Codec)
	if err != nil {
		return store.SegmentEntry{}, fmt.Errorf("segment %s: %w", first.ULID, err)
	}
	up, err := c.st.CreateSegment(ctx, c.lease, c.loc, store.SegmentOptions{Partition: first.Partition, Start: first.StartOffset, Codec: codec})
	if err != nil {
		return store.SegmentEntry{}, err
	}
	err = c.st.Walk(ctx, c.loc, run, store.Walk{From: first.StartOffset, Record: func(_ *store.SegmentEntry, r *store.Record) error {
		return up.Append(r)
	}})
	if err != nil {
		up.Abort()
		return store.SegmentEntry{}, fmt.Errorf("read segments to merge: %w", err)
	}
	up.Skip(last.NextOffset)
	e, err := up.Commit()
	if err != nil {
		return store.SegmentEntry{}, err
	}
	var records, decoded int64
	for i := range run {
		records += run[i].Records
		decoded += run[i].DecodedBytes
	}
	if e.Records != records || e.DecodedBytes != decoded || e.StartOffset != first.StartOffset || e.NextOffset != last.NextOffset {
		return store.SegmentEntry{}, fmt.Errorf("%w: merged segment %s holds %d records, %d decoded bytes, offsets %d-%d; its %d segments %d, %d, %d-%d",
			store.ErrCorrupt, e.ULID, e.Records, e.DecodedBytes, e.StartOffset, e.NextOffset, len(run), records, decoded, first.StartOffset, last.NextOffset)
	}
	return e, nil
}

// deleteLeftovers deletes what an interrupted compaction left: segments the
// index ix does not name whose records its segments hold (a merged segment
// written before the index switched, or a replaced one not yet deleted).
// Other unindexed segments may hold records nothing else holds and are left
// to the backup's recovery and `kbackup index rebuild`.
func (c *compaction) deleteLeftovers(ctx context.Context, ix *store.Index) error {
	listed, err := c.st.ListSegments(ctx, c.loc)
	if err != nil {
		return err
	}
	ref := ix.Referenced()
	ids := make([]string, 0, len(listed))
	for id := range listed {
		if !ref[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		sr, err := c.st.OpenSegment(ctx, c.loc, id, listed[id])
		if store.IsNotFound(err) {
			continue
		}
		if err != nil {
			c.opts.Logger.Warn("unindexed segment cannot be read; left in place", "segment", c.loc.SegmentKey(id), "err", err)
			continue
		}
		in := sr.Info
		if in.Records > 0 && !store.Covers(ix.Partition(in.Partition), in.FirstOffset, in.LastOffset) {
			c.opts.Logger.Warn("unindexed segment holds records the index does not; left in place (see kbackup index rebuild)", "segment", c.loc.SegmentKey(id))
			continue
		}
		if err := c.st.DeleteSegment(ctx, c.lease, c.loc, id); err != nil {
			return err
		}
		c.rep.Deleted = append(c.rep.Deleted, c.loc.SegmentKey(id))
		c.opts.Logger.Info("deleted unindexed segment whose records indexed segments hold", "segment", c.loc.SegmentKey(id))
	}
	return nil
}
