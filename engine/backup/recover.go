package backup

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/kbackup/kbackup/store"
)

// recoverOrphans finds segments in loc that the index does not name (a crash
// between a segment's upload and its index entry, or a process that lost
// the lease between the two). An orphan that continues its partition
// exactly is adopted into the index; one whose records indexed segments
// already cover is a duplicate and is deleted. Any other orphan, and one
// that cannot be read, is left in place and reported: it may hold records
// nothing else holds (kbackup index rebuild adopts what it can).
func recoverOrphans(ctx context.Context, st *store.Store, lease *store.Lease, loc store.Loc, iw *store.IndexWriter, log *slog.Logger) error {
	listed, err := st.ListSegments(ctx, loc)
	if err != nil {
		return err
	}
	ix, err := st.ReadIndex(ctx, loc)
	if err != nil && !store.IsNotFound(err) {
		return err
	}
	var ref map[string]bool
	if ix != nil {
		ref = ix.Referenced()
	}
	type orphan struct {
		id   string
		info *store.SegmentInfo
		scan *store.SegmentScan
	}
	var orphans []orphan
	for id, size := range listed {
		if ref[id] {
			continue
		}
		sc, err := st.CheckSegment(ctx, loc, id, size)
		if store.IsNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			log.Warn("unindexed segment is damaged or cannot be read; left in place (see kbackup verify)", "segment", loc.SegmentKey(id), "err", err)
			continue
		}
		orphans = append(orphans, orphan{id, sc.Info, sc})
	}
	sort.Slice(orphans, func(i, j int) bool {
		a, b := orphans[i].info, orphans[j].info
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.StartOffset < b.StartOffset
	})
	for _, o := range orphans {
		sum, has := iw.Summary(o.info.Partition)
		switch {
		case o.info.Records > 0 && (!has || o.info.StartOffset == sum.NextOffset):
			if err := iw.Append(ctx, o.scan.Entry(o.id)); err != nil {
				return err
			}
			log.Info("adopted unindexed segment", "segment", loc.SegmentKey(o.id), "partition", o.info.Partition, "offsets", fmt.Sprintf("%d-%d", o.info.FirstOffset, o.info.LastOffset))
		case o.info.Records == 0 || (ix != nil && store.Covers(ix.Partition(o.info.Partition), o.info.FirstOffset, o.info.LastOffset)):
			log.Info("deleting unindexed segment whose records indexed segments hold", "segment", loc.SegmentKey(o.id))
			if err := st.DeleteSegment(ctx, lease, loc, o.id); err != nil {
				return err
			}
		default:
			log.Warn("unindexed segment holds records no indexed segment holds and does not continue its partition; left in place (see kbackup index rebuild)",
				"segment", loc.SegmentKey(o.id), "partition", o.info.Partition, "offsets", fmt.Sprintf("%d-%d", o.info.FirstOffset, o.info.LastOffset))
		}
	}
	return nil
}
