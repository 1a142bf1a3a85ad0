package engine

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"sort"

	"github.com/kbackup/kbackup/store"
)

// recoverOrphans finds segments in loc that the index does not name (a crash
// between a segment's upload and its index entry). An orphan that continues
// its partition exactly is adopted into the index; any other is deleted,
// since its records are either already indexed or will be fetched again.
func recoverOrphans(ctx context.Context, st *store.Store, loc store.Loc, iw *store.IndexWriter, log *slog.Logger) error {
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
		size int64
		info *store.SegmentInfo
	}
	var orphans []orphan
	for id, size := range listed {
		if ref[id] {
			continue
		}
		sr, err := st.OpenSegment(ctx, loc, id, size)
		if err != nil {
			log.Warn("deleting unreadable unindexed segment", "segment", loc.SegmentKey(id), "err", err)
			if err := st.DeleteSegment(ctx, loc, id); err != nil {
				return err
			}
			continue
		}
		orphans = append(orphans, orphan{id, size, sr.Info})
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
		if o.info.Records > 0 && (!has || o.info.StartOffset == sum.NextOffset) {
			crc, err := segmentCRC(ctx, st, loc, o.id, io.Discard)
			if err != nil {
				return err
			}
			if err := iw.Append(ctx, store.EntryFromInfo(o.id, o.info, o.size, crc)); err != nil {
				return err
			}
			log.Info("adopted unindexed segment", "segment", loc.SegmentKey(o.id), "partition", o.info.Partition, "offsets", fmt.Sprintf("%d-%d", o.info.FirstOffset, o.info.LastOffset))
			continue
		}
		log.Info("deleting unindexed segment that does not continue its partition", "segment", loc.SegmentKey(o.id))
		if err := st.DeleteSegment(ctx, loc, o.id); err != nil {
			return err
		}
	}
	return nil
}

// segmentCRC streams segment id of loc into w (io.Discard to only check it)
// and returns the object's CRC-32C.
func segmentCRC(ctx context.Context, st *store.Store, loc store.Loc, id string, w io.Writer) (uint32, error) {
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	if err := st.CopySegment(ctx, loc, id, io.MultiWriter(w, h)); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}
