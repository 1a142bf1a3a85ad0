package compact

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// fixture stores a flat-layout topic with many small segments: 40 in
// partition 0, whose fetch ranges start before their first record every
// third segment (transaction markers), 6 in partition 1, and 8 in
// partition 2 whose first 3 retention expired. It returns the records of
// each partition in offset order.
func fixture(t *testing.T) (*store.Store, store.Loc, map[int32][]store.Record) {
	t.Helper()
	ctx := context.Background()
	st := storetest.OpenTemp(t)
	loc := store.Loc{Topic: "small"}
	l, err := st.AcquireLease(ctx, loc.Topic, "fixture", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	iw, err := st.OpenIndexWriter(ctx, l, loc)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32][]store.Record{}
	for _, p := range []struct {
		id      int32
		n       int
		expired int
	}{{0, 40, 0}, {1, 6, 0}, {2, 8, 3}} {
		next := int64(0)
		for k := 0; k < p.n; k++ {
			first := next
			if p.id == 0 && k%3 == 1 {
				first++ // one offset without a record
			}
			seg := storetest.Segment{Partition: p.id, Start: next, First: first, N: 10}
			if k < p.expired {
				seg.Expires = &storetest.Past
			}
			e, err := storetest.WriteSegment(ctx, st, l, loc, seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := iw.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
			want[p.id] = append(want[p.id], storetest.Records(first, 10)...)
			next = e.NextOffset
		}
	}
	return st, loc, want
}

// target is a merged size that takes about 10 fixture segments.
func target(t *testing.T, st *store.Store, loc store.Loc) int64 {
	t.Helper()
	ix, err := st.ReadIndex(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	return 10 * ix.Segments[0].StoredBytes
}

// checkIndex asserts that loc's index is whole: every partition's entries
// follow each other without gap or overlap, and reading them gives want,
// each record once and in order.
func checkIndex(t *testing.T, st *store.Store, loc store.Loc, want map[int32][]store.Record) *store.Index {
	t.Helper()
	ctx := context.Background()
	ix, err := st.ReadIndex(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	for p, recs := range want {
		es := ix.Partition(p)
		for i := 1; i < len(es); i++ {
			if es[i].StartOffset != es[i-1].NextOffset {
				t.Fatalf("partition %d: entry %d starts at %d, the previous ends at %d", p, i, es[i].StartOffset, es[i-1].NextOffset)
			}
		}
		var got []string
		err := st.Walk(ctx, loc, es, store.Walk{Record: func(_ *store.SegmentEntry, r *store.Record) error {
			got = append(got, fmt.Sprintf("%d %s", r.Offset, r.Value))
			return nil
		}})
		if err != nil {
			t.Fatalf("partition %d: %v", p, err)
		}
		var exp []string
		for _, r := range recs {
			exp = append(exp, fmt.Sprintf("%d %s", r.Offset, r.Value))
		}
		if !slices.Equal(got, exp) {
			t.Fatalf("partition %d reads %d records, want %d (first %q)", p, len(got), len(exp), got[:min(1, len(got))])
		}
	}
	return ix
}

// leftovers returns the segment objects the index does not name.
func leftovers(t *testing.T, st *store.Store, loc store.Loc, ix *store.Index) []string {
	t.Helper()
	listed, err := st.ListSegments(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ref := ix.Referenced()
	for id := range listed {
		if !ref[id] {
			out = append(out, id)
		}
	}
	return out
}

func decodedBytes(es []store.SegmentEntry) (n int64) {
	for i := range es {
		n += es[i].DecodedBytes
	}
	return n
}

func TestCompactMerges(t *testing.T) {
	st, loc, want := fixture(t)
	ctx := context.Background()
	before := checkIndex(t, st, loc, want)
	rep, err := Compact(ctx, st, loc.Topic, Options{SegmentBytes: target(t, st, loc)})
	if err != nil {
		t.Fatal(err)
	}
	after := checkIndex(t, st, loc, want)
	if rep.Before != 54 || rep.After != len(after.Segments) || rep.After > 12 {
		t.Errorf("segments %d -> %d (index %d), want 54 -> at most 12", rep.Before, rep.After, len(after.Segments))
	}
	if l := leftovers(t, st, loc, after); len(l) != 0 {
		t.Errorf("replaced segments left in storage: %v", l)
	}
	if len(rep.Deleted) != rep.Before-rep.After+rep.Merged {
		t.Errorf("deleted %d objects, want %d", len(rep.Deleted), rep.Before-rep.After+rep.Merged)
	}
	for _, p := range []int32{0, 1, 2} {
		if b, a := decodedBytes(before.Partition(p)), decodedBytes(after.Partition(p)); a != b {
			t.Errorf("partition %d: records.jsonl would change size, %d -> %d", p, b, a)
		}
	}
	// Expired segments are never merged.
	exp := after.Partition(2)[:3]
	for i := range exp {
		if exp[i].ULID != before.Partition(2)[i].ULID || exp[i].Expires == nil {
			t.Errorf("expired segment %d of partition 2 was merged or lost its expiry", i)
		}
	}
	again, err := Compact(ctx, st, loc.Topic, Options{SegmentBytes: target(t, st, loc)})
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, st, loc, want)
	if again.Before != rep.After {
		t.Errorf("second run found %d segments, want %d", again.Before, rep.After)
	}
}

var errKilled = errors.New("killed")

// TestCompactInterrupted stops a compaction after each of its steps, as a
// kill -9 would, and checks that the index is whole and reads every record
// once, and that the next run finishes the work and leaves no object
// behind.
func TestCompactInterrupted(t *testing.T) {
	for _, tc := range []struct {
		step string
		nth  int // stop at the nth time the step ends
	}{
		{"leftovers", 1},
		{"merged", 1},
		{"merged", 3},
		{"switched", 1},
		{"deleted", 1},
		{"deleted", 20},
	} {
		t.Run(fmt.Sprintf("%s-%d", tc.step, tc.nth), func(t *testing.T) {
			st, loc, want := fixture(t)
			ctx := context.Background()
			size := target(t, st, loc)
			seen := 0
			_, err := Compact(ctx, st, loc.Topic, Options{SegmentBytes: size, after: func(step string) error {
				if step == tc.step {
					if seen++; seen == tc.nth {
						return errKilled
					}
				}
				return nil
			}})
			if !errors.Is(err, errKilled) {
				t.Fatalf("compaction not stopped at %s %d: %v", tc.step, tc.nth, err)
			}
			checkIndex(t, st, loc, want)
			rep, err := Compact(ctx, st, loc.Topic, Options{SegmentBytes: size})
			if err != nil {
				t.Fatal(err)
			}
			ix := checkIndex(t, st, loc, want)
			if l := leftovers(t, st, loc, ix); len(l) != 0 {
				t.Errorf("objects left after the second run: %v", l)
			}
			if len(ix.Segments) > 12 {
				t.Errorf("%d segments after the second run (%+v), want at most 12", len(ix.Segments), rep)
			}
		})
	}
}

func TestCompactNeedsTheLease(t *testing.T) {
	st, loc, _ := fixture(t)
	ctx := context.Background()
	l, err := st.AcquireLease(ctx, loc.Topic, "running backup", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	if _, err := Compact(ctx, st, loc.Topic, Options{}); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("compact beside a lease holder: %v, want ErrLeaseHeld", err)
	}
}
