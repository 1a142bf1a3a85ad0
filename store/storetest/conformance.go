package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

// RunConformance checks everything kbackup needs from a storage backend,
// as subtests: missing objects, the manifest, segments (range reads,
// checksums, deletes), the index, listings, leases (including a takeover of
// a frozen holder) and fencing (a holder whose lease passed on can write
// nothing). url opens the backend under Prefix ("" for a mem bucket shared
// through store.New); raw, if not "", opens the same bucket without the
// prefix, to check that every object stays under it. A new backend's test
// calls it, as ForEachBackend's backends do in store's TestConformance. It
// writes the topics orders, events and fenced: give it an empty prefix.
func RunConformance(t *testing.T, url, raw string) {
	open := Opener(t, url)
	st := open()
	ctx := context.Background()
	loc := store.Loc{Topic: "orders", Version: 1}

	t.Run("missing", func(t *testing.T) {
		if _, err := st.ReadManifest(ctx, "nothing"); !store.IsNotFound(err) {
			t.Fatalf("ReadManifest of a missing topic: %v, want not found", err)
		}
		if _, err := st.OpenSegment(ctx, loc, "01NOSUCHSEGMENT", -1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("OpenSegment of a missing segment: %v, want ErrNotFound", err)
		}
		if l, err := st.TopicLayout(ctx, "nothing"); err != nil || l != store.LayoutNone {
			t.Fatalf("TopicLayout = %v, %v", l, err)
		}
	})
	t.Run("manifest", func(t *testing.T) { checkManifest(t, st) })
	t.Run("segments", func(t *testing.T) { checkSegments(t, st, loc) })
	t.Run("index", func(t *testing.T) { checkIndex(t, st, store.Loc{Topic: "events", Version: 1}) })
	t.Run("list", func(t *testing.T) {
		topics, err := st.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(topics, ","); got != "events,orders" {
			t.Fatalf("ListTopics = %q, want events,orders", got)
		}
	})
	t.Run("lease", func(t *testing.T) { checkLease(t, open) })
	t.Run("fencing", func(t *testing.T) { checkFencing(t, open) })
	if raw != "" {
		t.Run("prefix", func(t *testing.T) {
			// The objects live under the prefix in the bucket.
			topics, err := Opener(t, raw)().ListTopics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(topics, ","); got != strings.TrimSuffix(Prefix, "/") {
				t.Fatalf("bucket root holds %q, want only the prefix", got)
			}
			inner, err := store.Open(ctx, strings.Replace(url, "prefix=backups/", "prefix=backups%2F", 1))
			if err != nil {
				t.Fatal(err)
			}
			defer inner.Close()
			if _, err := inner.ReadManifest(ctx, "orders"); err != nil {
				t.Fatalf("manifest through the escaped prefix: %v", err)
			}
		})
	}
}

func checkManifest(t *testing.T, st *store.Store) {
	ctx := context.Background()
	m := &store.Manifest{Topic: "orders", Active: 1, Snapshots: []store.Snapshot{
		{Version: 1, TopicID: "abc", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Partitions: 3},
	}}
	if err := st.WriteManifest(ctx, Lease(t, st, "orders"), m); err != nil {
		t.Fatal(err)
	}
	got, err := st.ReadManifest(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if got.Active != 1 || len(got.Snapshots) != 1 || got.Snapshots[0].TopicID != "abc" || got.Snapshots[0].Partitions != 3 {
		t.Fatalf("manifest read back as %+v", got)
	}
	if l, err := st.TopicLayout(ctx, "orders"); err != nil || l != store.LayoutSnapshots {
		t.Fatalf("TopicLayout = %v, %v", l, err)
	}
}

// WriteTestSegment uploads a segment of n records of partition p from offset
// start and returns its index entry.
func WriteTestSegment(t testing.TB, st *store.Store, loc store.Loc, id string, p int32, start int64, n int, valueLen int) store.SegmentEntry {
	ctx := context.Background()
	up, err := st.CreateSegment(ctx, Lease(t, st, loc.Topic), loc, store.SegmentOptions{ID: id, Partition: p, Start: start, Codec: store.CodecNone, BlockSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		r := SampleRecord(start+int64(i), valueLen)
		if err := up.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	e, err := up.Commit()
	if err != nil {
		t.Fatalf("upload segment: %v", err)
	}
	return e
}

// SampleRecord is record off of the conformance segments, with a value of
// valueLen bytes.
func SampleRecord(off int64, valueLen int) store.Record {
	v := bytes.Repeat([]byte{byte('a' + off%26)}, valueLen)
	copy(v, fmt.Sprintf("value-%d:", off))
	return store.Record{Offset: off, Timestamp: time.UnixMilli(1_700_000_000_000 + off).UTC(),
		Key: []byte(fmt.Sprintf("key-%d", off)), Value: v,
		Headers: []store.Header{{Key: "h", Value: []byte("x")}}}
}

func checkSegments(t *testing.T, st *store.Store, loc store.Loc) {
	ctx := context.Background()
	e1 := WriteTestSegment(t, st, loc, "01JAAAAAAAAAAAAAAAAAAAAAA1", 0, 0, 2000, 40)
	e2 := WriteTestSegment(t, st, loc, "01JAAAAAAAAAAAAAAAAAAAAAA2", 0, 2000, 10, 40)
	segs, err := st.ListSegments(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || segs[e1.ULID] != e1.StoredBytes || segs[e2.ULID] != e2.StoredBytes {
		t.Fatalf("ListSegments = %v, want sizes %d and %d", segs, e1.StoredBytes, e2.StoredBytes)
	}
	for _, size := range []int64{e1.StoredBytes, -1} {
		sr, err := st.OpenSegment(ctx, loc, e1.ULID, size)
		if err != nil {
			t.Fatal(err)
		}
		if len(sr.Info.Blocks) < 10 || sr.Info.Records != 2000 {
			t.Fatalf("segment has %d blocks, %d records", len(sr.Info.Blocks), sr.Info.Records)
		}
		// Range reads from the middle of the segment.
		next := int64(1234)
		err = sr.Records(1234, func(r *store.Record) error {
			want := SampleRecord(next, 40)
			if r.Offset != next || !bytes.Equal(r.Value, want.Value) || string(r.Key) != string(want.Key) {
				return fmt.Errorf("record %d read back as offset %d key %q", next, r.Offset, r.Key)
			}
			next++
			return nil
		})
		if err != nil || next != 2000 {
			t.Fatalf("Records from 1234: stopped at %d: %v", next, err)
		}
	}
	CheckSegmentBytes(t, st, loc, e1)
	if err := st.DeleteSegment(ctx, Lease(t, st, loc.Topic), loc, e2.ULID); err != nil {
		t.Fatal(err)
	}
	if segs, _ := st.ListSegments(ctx, loc); len(segs) != 1 {
		t.Fatalf("after delete: %v", segs)
	}
}

func checkIndex(t *testing.T, st *store.Store, loc store.Loc) {
	ctx := context.Background()
	var entries []store.SegmentEntry
	for i := 0; i < 1500; i++ { // one sealed part and a head
		entries = append(entries, store.SegmentEntry{ULID: fmt.Sprintf("01J%023d", i), Partition: int32(i % 2),
			StartOffset: int64(i) * 10, FirstOffset: int64(i) * 10, LastOffset: int64(i)*10 + 9, NextOffset: int64(i)*10 + 10,
			Records: 10, StoredBytes: 100, Codec: "none", Checksum: "crc32c:00000000"})
	}
	l := Lease(t, st, loc.Topic)
	if err := st.WriteIndex(ctx, l, loc, entries); err != nil {
		t.Fatal(err)
	}
	iw, err := st.OpenIndexWriter(ctx, l, loc)
	if err != nil {
		t.Fatal(err)
	}
	extra := store.SegmentEntry{ULID: "01JZZZZZZZZZZZZZZZZZZZZZZZ", Partition: 1, StartOffset: 15000, FirstOffset: 15000,
		LastOffset: 15004, NextOffset: 15005, Records: 5, StoredBytes: 50, Codec: "none"}
	if err := iw.Append(ctx, extra); err != nil {
		t.Fatal(err)
	}
	ix, err := st.ReadIndex(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Segments) != 1501 {
		t.Fatalf("index has %d entries, want 1501", len(ix.Segments))
	}
	p1 := ix.Partition(1)
	if last := p1[len(p1)-1]; last.ULID != extra.ULID {
		t.Fatalf("last entry of partition 1 is %s", last.ULID)
	}
	if s := ix.Partitions[1]; s.Segments != 751 || s.NextOffset != 15005 {
		t.Fatalf("partition 1 summary %+v", s)
	}
}

func checkLease(t *testing.T, open func() *store.Store) {
	ctx := context.Background()
	a, b := open(), open()
	la, err := a.AcquireLease(ctx, "orders", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.AcquireLease(ctx, "orders", "b", time.Minute); !errors.Is(err, store.ErrLeaseHeld) || !strings.Contains(err.Error(), "held by a") {
		t.Fatalf("second acquire: %v, want ErrLeaseHeld naming a", err)
	}
	if err := la.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	lb, err := b.AcquireLease(ctx, "orders", "b", time.Second)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	// Takeover: b stops renewing (frozen); after its TTL, judged by the
	// storage clock (whole seconds on S3), a takes over and b has lost the
	// lease.
	lb.Freeze()
	time.Sleep(2500 * time.Millisecond)
	la, err = a.AcquireLease(ctx, "orders", "a", time.Second)
	if err != nil {
		t.Fatalf("takeover of a stale lease: %v", err)
	}
	if err := lb.Renew(ctx); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("renew after takeover: %v, want ErrLeaseLost", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// leases holds the lease a test took per store and topic, so that helpers
// share one (a second acquire by the same test would wait for the first).
var leases sync.Map

// Lease returns a lease on topic through st for the test, released at its
// end.
func Lease(t testing.TB, st *store.Store, topic string) *store.Lease {
	t.Helper()
	type key struct {
		st    *store.Store
		topic string
	}
	if l, ok := leases.Load(key{st, topic}); ok {
		return l.(*store.Lease)
	}
	l, err := st.AcquireLease(context.Background(), topic, "conformance", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leases.Store(key{st, topic}, l)
	t.Cleanup(func() {
		leases.Delete(key{st, topic})
		_ = l.Release(context.Background())
	})
	return l
}

// checkFencing: a writer whose lease passed to another process cannot
// change the index or the manifest once the new holder has taken them
// over, even while its own clock still says the lease is valid: the
// storage refuses its conditional writes.
func checkFencing(t *testing.T, open func() *store.Store) {
	ctx := context.Background()
	a, b := open(), open()
	loc := store.Loc{Topic: "fenced", Version: 1}
	la, err := a.AcquireLease(ctx, "fenced", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WriteManifest(ctx, la, &store.Manifest{Topic: "fenced", Active: 1, Snapshots: []store.Snapshot{{Version: 1, Partitions: 1}}}); err != nil {
		t.Fatal(err)
	}
	wa, err := a.OpenIndexWriter(ctx, la, loc)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(i int64) store.SegmentEntry {
		return store.SegmentEntry{ULID: fmt.Sprintf("01JF%022d", i), StartOffset: i * 10, FirstOffset: i * 10, LastOffset: i*10 + 9,
			NextOffset: i*10 + 10, Records: 10, StoredBytes: 100, Codec: "none"}
	}
	if err := wa.Append(ctx, entry(0)); err != nil {
		t.Fatal(err)
	}
	la.Freeze()
	if err := store.ForceTakeover(a, la); err != nil {
		t.Fatal(err)
	}
	lb, err := b.AcquireLease(ctx, "fenced", "b", time.Hour)
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	defer lb.Release(ctx)
	if _, err := b.FenceManifest(ctx, lb); err != nil {
		t.Fatal(err)
	}
	wb, err := b.OpenIndexWriter(ctx, lb, loc)
	if err != nil {
		t.Fatal(err)
	}
	if err := la.Check(); err != nil {
		t.Fatalf("the old holder's clock cannot know yet: %v", err)
	}
	if err := wa.Append(ctx, entry(1)); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("old holder's index append after the takeover: %v, want ErrLeaseLost", err)
	}
	if _, err := a.UpdateManifest(ctx, la, func(m *store.Manifest) error { m.Active = 7; return nil }); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("old holder's manifest update after the takeover: %v, want ErrLeaseLost", err)
	}
	if err := la.Check(); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the old holder's lease survived a refused write: %v", err)
	}
	if _, err := a.CreateSegment(ctx, la, loc, store.SegmentOptions{ID: "01JFZZZZZZZZZZZZZZZZZZZZZZ"}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("old holder's segment upload after losing: %v", err)
	}
	if err := wb.Append(ctx, entry(1)); err != nil {
		t.Fatalf("new holder's append: %v", err)
	}
	ix, err := b.ReadIndex(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Segments) != 2 || ix.Segments[1].ULID != entry(1).ULID {
		t.Fatalf("index after the takeover: %+v", ix.Segments)
	}
	m, err := b.ReadManifest(ctx, "fenced")
	if err != nil || m.Active != 1 {
		t.Fatalf("manifest after the takeover: %+v, %v", m, err)
	}
}
