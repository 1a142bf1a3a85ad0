// Package browsetest builds small backups for the tests of the browse
// model and its adapters, through store's one write path
// (Store.CreateSegment), without Kafka or FUSE.
package browsetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// BaseTime is the first record's time and v1's creation.
var BaseTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// Backup is a test backup: topic "orders" with v1 (archived, one
// partition of 25 records) and v2 (active, partitions 0 and 1 of 60 and
// 35 records), and what was stored, to compare a view with.
type Backup struct {
	St *store.Store
	// Lines are each partition's records as JSON lines, the content of
	// its records.jsonl.
	Lines map[store.Loc]map[int32][]byte
	// Segs are each partition's index entries, in offset order.
	Segs map[store.Loc]map[int32][]store.SegmentEntry
}

// V1 and V2 are the snapshots of "orders".
var (
	V1 = store.Loc{Topic: "orders", Version: 1}
	V2 = store.Loc{Topic: "orders", Version: 2}
)

// New writes the backup into a fresh file store.
func New(tb testing.TB) *Backup {
	tb.Helper()
	ctx := context.Background()
	st := storetest.OpenTemp(tb)
	b := &Backup{St: st, Lines: map[store.Loc]map[int32][]byte{}, Segs: map[store.Loc]map[int32][]store.SegmentEntry{}}
	l, err := st.AcquireLease(ctx, "orders", "browsetest", time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release(ctx)
	seq := 0
	add := func(loc store.Loc, p int32, n, perSeg int) {
		var es []store.SegmentEntry
		var lines []byte
		for from := 0; from < n; from += perSeg {
			seq++
			up, err := st.CreateSegment(ctx, l, loc, store.SegmentOptions{ID: fmt.Sprintf("01TEST%020d", seq), Partition: p,
				Start: int64(from), Codec: store.CodecZstd, BlockSize: 300})
			if err != nil {
				tb.Fatal(err)
			}
			for o := from; o < min(n, from+perSeg); o++ {
				r := store.Record{Offset: int64(o), Timestamp: BaseTime.Add(time.Duration(o) * time.Second),
					Key: []byte(fmt.Sprintf("k%d", o)), Value: []byte(fmt.Sprintf(`{"p":%d,"o":%d}`, p, o))}
				if err := up.Append(&r); err != nil {
					tb.Fatal(err)
				}
				lines = store.AppendJSONLine(lines, &r)
			}
			e, err := up.Commit()
			if err != nil {
				tb.Fatal(err)
			}
			es = append(es, e)
		}
		iw, err := st.OpenIndexWriter(ctx, l, loc)
		if err != nil {
			tb.Fatal(err)
		}
		if err := iw.Append(ctx, es...); err != nil {
			tb.Fatal(err)
		}
		if b.Lines[loc] == nil {
			b.Lines[loc], b.Segs[loc] = map[int32][]byte{}, map[int32][]store.SegmentEntry{}
		}
		b.Lines[loc][p], b.Segs[loc][p] = lines, es
	}
	add(V1, 0, 25, 10)
	add(V2, 0, 60, 20)
	add(V2, 1, 35, 20)
	archived := BaseTime.Add(time.Hour)
	m := &store.Manifest{Topic: "orders", Active: 2, Snapshots: []store.Snapshot{
		{Version: 1, TopicID: "id-one", Created: BaseTime, Archived: &archived, Reason: "topic recreated", Partitions: 1},
		{Version: 2, TopicID: "id-two", Created: archived, Partitions: 2},
	}}
	if err := st.WriteManifest(ctx, l, m); err != nil {
		tb.Fatal(err)
	}
	return b
}

// BigIndex writes topic loc.Topic with the one snapshot loc (one
// partition) whose index names n segments of 10 records each, for
// listing: no segment object exists for them.
func BigIndex(tb testing.TB, st *store.Store, loc store.Loc, n int) {
	tb.Helper()
	ctx := context.Background()
	l, err := st.AcquireLease(ctx, loc.Topic, "browsetest", time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release(ctx)
	es := make([]store.SegmentEntry, n)
	for i := range es {
		first := int64(i) * 10
		t := BaseTime.Add(time.Duration(i) * time.Second)
		es[i] = store.SegmentEntry{
			ULID: fmt.Sprintf("01FAKE%020d", i), Partition: 0,
			StartOffset: first, FirstOffset: first, LastOffset: first + 9, NextOffset: first + 10,
			FirstTimestamp: t, LastTimestamp: t, MinTimestamp: t, MaxTimestamp: t,
			Records: 10, StoredBytes: 500, DecodedBytes: 2000, Codec: "zstd", Checksum: "crc32c:00000000",
		}
	}
	m := &store.Manifest{Topic: loc.Topic, Active: loc.Version, Snapshots: []store.Snapshot{
		{Version: loc.Version, TopicID: "id", Created: BaseTime, Partitions: 1},
	}}
	if err := st.WriteManifest(ctx, l, m); err != nil {
		tb.Fatal(err)
	}
	if err := st.WriteIndex(ctx, l, loc, es); err != nil {
		tb.Fatal(err)
	}
}
