package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"
)

// testEntries returns n index entries spread over three partitions, in
// append order (partitions interleaved, offsets ascending per partition).
func testEntries(n int) []SegmentEntry {
	next := map[int32]int64{}
	out := make([]SegmentEntry, n)
	for i := range out {
		p := int32(i % 3)
		start := next[p]
		ts := baseTime.Add(time.Duration(i) * time.Minute).Truncate(time.Millisecond)
		out[i] = SegmentEntry{
			ULID: fmt.Sprintf("01HX%022d", i), Partition: p,
			StartOffset: start, FirstOffset: start + 1, LastOffset: start + 9, NextOffset: start + 12,
			FirstTimestamp: ts, LastTimestamp: ts.Add(time.Second), MinTimestamp: ts.Add(-time.Second), MaxTimestamp: ts.Add(2 * time.Second),
			Records: 9, StoredBytes: 1000 + int64(i), DecodedBytes: 5000 + int64(i),
			Codec: "zstd", Checksum: fmt.Sprintf("crc32c:%08x", i),
		}
		if i%5 == 0 {
			exp := ts.Add(24 * time.Hour)
			out[i].Expires = &exp
		}
		next[p] = start + 12
	}
	return out
}

// sortedEntries returns es ordered as ReadIndex orders them.
func sortedEntries(es []SegmentEntry) []SegmentEntry {
	s := append([]SegmentEntry(nil), es...)
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Partition != s[j].Partition {
			return s[i].Partition < s[j].Partition
		}
		return s[i].StartOffset < s[j].StartOffset
	})
	return s
}

func summaries(es []SegmentEntry) map[int32]PartitionSummary {
	m := map[int32]PartitionSummary{}
	for _, e := range sortedEntries(es) {
		ps := m[e.Partition]
		if ps.Segments == 0 {
			ps.FirstOffset = e.FirstOffset
		}
		ps.Segments++
		ps.Records += e.Records
		ps.StoredBytes += e.StoredBytes
		ps.DecodedBytes += e.DecodedBytes
		ps.LastOffset = e.LastOffset
		ps.NextOffset = e.NextOffset
		m[e.Partition] = ps
	}
	return m
}

// normEntry makes times comparable with reflect.DeepEqual after YAML.
func normEntry(e SegmentEntry) SegmentEntry {
	for _, t := range []*time.Time{&e.FirstTimestamp, &e.LastTimestamp, &e.MinTimestamp, &e.MaxTimestamp} {
		*t = t.UTC()
	}
	if e.Expires != nil {
		x := e.Expires.UTC()
		e.Expires = &x
	}
	return e
}

func checkIndex(t *testing.T, ix *Index, want []SegmentEntry) {
	t.Helper()
	w := sortedEntries(want)
	if len(ix.Segments) != len(w) {
		t.Fatalf("index has %d entries, want %d", len(ix.Segments), len(w))
	}
	for i := range w {
		if got, want := normEntry(ix.Segments[i]), normEntry(w[i]); !reflect.DeepEqual(got, want) {
			t.Fatalf("entry %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	if got, want := ix.Partitions, summaries(want); !reflect.DeepEqual(got, want) {
		t.Errorf("summaries\n got %+v\nwant %+v", got, want)
	}
}

func headOf(t *testing.T, s *Store, loc Loc) *indexHead {
	t.Helper()
	h, _, err := s.readHead(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestIndexWriterSeals(t *testing.T) {
	ctx := context.Background()
	for _, loc := range []Loc{{Topic: "orders", Version: 2}} {
		t.Run(loc.String(), func(t *testing.T) {
			s := memStore(t)
			l := testLease(t, s, loc.Topic)
			es := testEntries(2600)
			w, err := s.OpenIndexWriter(ctx, l, loc)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := w.Summary(0); ok {
				t.Error("new index has a summary for partition 0")
			}
			// In batches, then one at a time across the seal.
			if err := w.Append(ctx, es[:500]...); err != nil {
				t.Fatal(err)
			}
			i := 500
			for ; i < 990; i += 49 {
				if err := w.Append(ctx, es[i:i+49]...); err != nil {
					t.Fatal(err)
				}
			}
			for ; i < 1003; i++ {
				if err := w.Append(ctx, es[i]); err != nil {
					t.Fatal(err)
				}
				if h := headOf(t, s, loc); len(h.Segments) >= sealEvery || h.Sealed != (i+1)/sealEvery {
					t.Fatalf("after %d appends: head holds %d entries, %d sealed parts", i+1, len(h.Segments), h.Sealed)
				}
			}
			h := headOf(t, s, loc)
			ok, err := s.exists(ctx, loc.dir()+"index.d/"+h.Parts[0].Epoch+"/00000001")
			if err != nil || !ok {
				t.Fatalf("sealed part 1 missing (%v)", err)
			}
			for ; i < 2000; i += 7 {
				if err := w.Append(ctx, es[i:min(i+7, 2000)]...); err != nil {
					t.Fatal(err)
				}
			}
			ix, err := s.ReadIndex(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			checkIndex(t, ix, es[:2000])
			if ix.Loc != loc {
				t.Errorf("index loc %v, want %v", ix.Loc, loc)
			}

			// A reopened writer continues where the last left off.
			w2, err := s.OpenIndexWriter(ctx, l, loc)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := mustSummary(t, w2, 1), summaries(es[:2000])[1]; got != want {
				t.Errorf("reopened summary %+v, want %+v", got, want)
			}
			if err := w2.Append(ctx, es[2000:]...); err != nil {
				t.Fatal(err)
			}
			h = headOf(t, s, loc)
			if h.Sealed != 2 || len(h.Segments) != 600 || h.Format != FormatVersion || h.Topic != loc.Topic || h.Version != loc.Version {
				t.Errorf("head: %d sealed, %d entries, format %d, %s v%d", h.Sealed, len(h.Segments), h.Format, h.Topic, h.Version)
			}
			ix, err = s.ReadIndex(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			checkIndex(t, ix, es)
		})
	}
}

func mustSummary(t *testing.T, w *IndexWriter, p int32) PartitionSummary {
	t.Helper()
	ps, ok := w.Summary(p)
	if !ok {
		t.Fatalf("no summary for partition %d", p)
	}
	return ps
}

// TestIndexUnreferencedPart simulates a crash between writing a sealed part
// and the head that counts it: the leftover part is ignored by readers, and
// the next writer seals under its own epoch.
func TestIndexUnreferencedPart(t *testing.T) {
	ctx := context.Background()
	s := fileStore(t, "")
	loc := Loc{Topic: "t", Version: 1}
	l := testLease(t, s, loc.Topic)
	es := testEntries(1500)
	w, err := s.OpenIndexWriter(ctx, l, loc)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(ctx, es[:990]...); err != nil {
		t.Fatal(err)
	}
	// The crashed writer's part: different entries than the next seal's.
	if err := s.write(ctx, loc.partKey(w.epoch, 1), []byte("format: 2\nsegments:\n  - ulid: ORPHAN\n    partition: 0\n")); err != nil {
		t.Fatal(err)
	}
	ix, err := s.ReadIndex(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, ix, es[:990])

	w, err = s.OpenIndexWriter(ctx, l, loc) // as after the restart
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(ctx, es[990:1500]...); err != nil {
		t.Fatal(err)
	}
	ix, err = s.ReadIndex(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, ix, es)
	if ix.Referenced()["ORPHAN"] {
		t.Error("the unreferenced part's entry survived the seal")
	}
}

func TestWriteIndex(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	loc := Loc{Topic: "t", Version: 3}
	l := testLease(t, s, loc.Topic)
	for _, n := range []int{2345, 0, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			es := testEntries(n)
			if err := s.WriteIndex(ctx, l, loc, sortedEntries(es)); err != nil {
				t.Fatal(err)
			}
			ix, err := s.ReadIndex(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			checkIndex(t, ix, es)
			if h := headOf(t, s, loc); h.Sealed != n/sealEvery || len(h.Segments) != n%sealEvery {
				t.Errorf("head: %d sealed, %d entries", h.Sealed, len(h.Segments))
			}
			// An IndexWriter continues a rebuilt index.
			w, err := s.OpenIndexWriter(ctx, l, loc)
			if err != nil {
				t.Fatal(err)
			}
			more := testEntries(n + 1)[n:]
			if err := w.Append(ctx, more...); err != nil {
				t.Fatal(err)
			}
			ix, err = s.ReadIndex(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			checkIndex(t, ix, testEntries(n+1))
		})
	}
}

func TestIndexAccessors(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	loc := Loc{Topic: "t", Version: 1}
	es := testEntries(30)
	if err := s.WriteIndex(ctx, testLease(t, s, loc.Topic), loc, es); err != nil {
		t.Fatal(err)
	}
	ix, err := s.ReadIndex(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if got := ix.PartitionIDs(); !reflect.DeepEqual(got, []int32{0, 1, 2}) {
		t.Errorf("PartitionIDs %v", got)
	}
	for p := int32(0); p < 4; p++ {
		ps := ix.Partition(p)
		want := 10
		if p == 3 {
			want = 0
		}
		if len(ps) != want {
			t.Errorf("partition %d: %d entries, want %d", p, len(ps), want)
		}
		for i, e := range ps {
			if e.Partition != p || (i > 0 && e.StartOffset <= ps[i-1].StartOffset) {
				t.Errorf("partition %d entry %d: %+v", p, i, e)
			}
		}
	}
	if ref := ix.Referenced(); len(ref) != 30 || !ref[es[7].ULID] {
		t.Errorf("Referenced: %d ids", len(ref))
	}
	e := es[0]
	if e.Expires == nil || e.Expired(e.Expires.Add(-time.Millisecond)) || !e.Expired(*e.Expires) {
		t.Error("Expired is wrong around the expiry time")
	}
	if es[1].Expired(time.Now().Add(1000 * time.Hour)) {
		t.Error("an entry without expiry expired")
	}
	raw, err := s.RawIndex(ctx, loc)
	if err != nil || len(raw) == 0 {
		t.Errorf("RawIndex: %d bytes, %v", len(raw), err)
	}
}

func TestReadIndexErrors(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	loc := Loc{Topic: "t", Version: 1}
	if _, err := s.ReadIndex(ctx, loc); !IsNotFound(err) || !errors.Is(err, ErrNotFound) {
		t.Errorf("missing index: %v, want ErrNotFound", err)
	}
	tests := []struct {
		name string
		head string
		want error
	}{
		{"newer format", "format: 3\ntopic: t\nversion: 1\n", ErrFormat},
		{"stub without heads", "format: 2\nmoved_to: t/snapshots/v1/t/index.d/heads/\n", ErrCorrupt},
		{"negative partition", "format: 1\ntopic: t\nversion: 1\npartitions:\n  -1: {segments: 1}\n", ErrCorrupt},
		{"huge part count", "format: 1\ntopic: t\nversion: 1\nsealed_parts: 2000000\n", ErrCorrupt},
		{"many missing parts", "format: 1\ntopic: t\nversion: 1\nsealed_parts: 65000\n", ErrCorrupt},
		{"format 1 naming part ranges", "format: 1\ntopic: t\nversion: 1\nparts: [{epoch: '..', first: 0, last: 0}]\n", ErrCorrupt},
		{"key in a segment ID", "format: 1\ntopic: t\nversion: 1\nsegments:\n  - ulid: ../../other/x\n", ErrCorrupt},
		{"not YAML", "format: [1\n", ErrCorrupt},
		{"missing part", "format: 1\ntopic: t\nversion: 1\nsealed_parts: 1\n", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.write(ctx, loc.indexKey(), []byte(tt.head)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReadIndex(ctx, loc); !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("corrupt part", func(t *testing.T) {
		if err := s.write(ctx, loc.indexKey(), []byte("format: 1\ntopic: t\nversion: 1\nsealed_parts: 1\n")); err != nil {
			t.Fatal(err)
		}
		if err := s.write(ctx, loc.partKey("", 1), []byte("segments: {")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadIndex(ctx, loc); !errors.Is(err, ErrCorrupt) {
			t.Errorf("error %v, want ErrCorrupt", err)
		}
	})
}

func TestEntryFromInfo(t *testing.T) {
	rs := testRecords(false)
	seg := writeSegment(t, CodecLZ4, 512, 5, rs, 3000)
	e := EntryFromInfo("01HXULID", &seg.info, seg.size, seg.crc)
	want := SegmentEntry{
		ULID: "01HXULID", Partition: 3, StartOffset: 5, FirstOffset: 10, LastOffset: rs[len(rs)-1].Offset, NextOffset: 3000,
		FirstTimestamp: rs[0].Timestamp, LastTimestamp: rs[len(rs)-1].Timestamp,
		MinTimestamp: baseTime.Add(-100 * time.Second), MaxTimestamp: rs[len(rs)-1].Timestamp,
		Records: int64(len(rs)), StoredBytes: seg.size, DecodedBytes: seg.info.DecodedBytes,
		Codec: "lz4", Checksum: fmt.Sprintf("crc32c:%08x", crc32c(seg.data)),
	}
	if !reflect.DeepEqual(normEntry(e), normEntry(want)) {
		t.Errorf("entry\n got %+v\nwant %+v", e, want)
	}
}

// TestReadIndexSinceReusesSealedParts: rereading a grown index reads only its
// new parts, and a rebuild (new epoch) makes it read every part again.
func TestReadIndexSinceReusesSealedParts(t *testing.T) {
	ctx := context.Background()
	st := memStore(t)
	loc := Loc{Topic: "t", Version: 1}
	l := testLease(t, st, loc.Topic)
	es := testEntries(2*sealEvery + 10)
	w, err := st.OpenIndexWriter(ctx, l, loc)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(ctx, es[:sealEvery+5]...); err != nil {
		t.Fatal(err)
	}
	first, err := st.ReadIndex(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	// Damage part 1: a reread that reuses it cannot notice.
	if err := st.write(ctx, loc.partKey(w.epoch, 1), []byte("not: [yaml")); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(ctx, es[sealEvery+5:]...); err != nil {
		t.Fatal(err)
	}
	again, err := st.ReadIndexSince(ctx, loc, first)
	if err != nil {
		t.Fatalf("reread read part 1 again: %v", err)
	}
	if !reflect.DeepEqual(again.Segments, sortedEntries(es)) {
		t.Fatalf("reread index has %d entries, want %d", len(again.Segments), len(es))
	}
	if _, err := st.ReadIndex(ctx, loc); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a full read must see the damaged part, got %v", err)
	}
	// A rebuild rewrites the parts under a new epoch: nothing is reused.
	if err := st.WriteIndex(ctx, l, loc, es[:sealEvery+1]); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := st.ReadIndexSince(ctx, loc, again)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rebuilt.Segments, sortedEntries(es[:sealEvery+1])) {
		t.Fatalf("after a rebuild: %d entries, want %d", len(rebuilt.Segments), sealEvery+1)
	}
}

// TestCovers: fetch ranges cover an offset range when they chain through
// it, gaps between records included.
func TestCovers(t *testing.T) {
	seg := func(start, next int64) SegmentEntry { return SegmentEntry{StartOffset: start, NextOffset: next} }
	entries := []SegmentEntry{seg(0, 10), seg(10, 25), seg(30, 40)}
	for _, tc := range []struct {
		first, last int64
		want        bool
	}{
		{0, 9, true},
		{3, 24, true},   // across two ranges
		{10, 10, true},  // one offset
		{20, 26, false}, // 25-29 are in no range
		{30, 39, true},
		{35, 40, false}, // past the last range
		{-1, 5, false},  // before the first
	} {
		if got := Covers(entries, tc.first, tc.last); got != tc.want {
			t.Errorf("Covers(%d, %d) = %v, want %v", tc.first, tc.last, got, tc.want)
		}
	}
}
