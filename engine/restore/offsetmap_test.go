package restore

import (
	"errors"
	"reflect"
	"testing"
)

// mapOf builds a map by adding each pair in order, as acknowledgements do.
func mapOf(t *testing.T, end int64, pairs ...[2]int64) *PartitionMap {
	t.Helper()
	m := &PartitionMap{End: end}
	for _, p := range pairs {
		if err := m.Add(p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// pairs lists (src, dst) for src in [from, until) restored from dst on.
func pairs(from, until, dst int64) [][2]int64 {
	var out [][2]int64
	for s := from; s < until; s++ {
		out = append(out, [2]int64{s, dst})
		dst++
	}
	return out
}

func TestPartitionMapAddBreaksAtGaps(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pairs [][2]int64
		want  []OffsetRange
	}{
		{"contiguous", pairs(0, 5, 0), []OffsetRange{{0, 0, 5}}},
		{"source gap (compaction)", append(pairs(0, 3, 0), pairs(7, 9, 3)...), []OffsetRange{{0, 0, 3}, {7, 3, 2}}},
		{"target gap", append(pairs(0, 3, 10), pairs(3, 5, 20)...), []OffsetRange{{0, 10, 3}, {3, 20, 2}}},
		{"both gaps", append(pairs(0, 2, 0), pairs(4, 6, 5)...), []OffsetRange{{0, 0, 2}, {4, 5, 2}}},
		{"one record", pairs(42, 43, 7), []OffsetRange{{42, 7, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mapOf(t, 0, tc.pairs...)
			if !reflect.DeepEqual(m.Ranges, tc.want) {
				t.Fatalf("ranges %v, want %v", m.Ranges, tc.want)
			}
			last := tc.pairs[len(tc.pairs)-1]
			if m.End != last[1]+1 || m.Records() != int64(len(tc.pairs)) {
				t.Fatalf("end %d records %d, want %d and %d", m.End, m.Records(), last[1]+1, len(tc.pairs))
			}
		})
	}
}

func TestPartitionMapAddRefusesDisorder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src, dst int64
	}{{"source repeats", 4, 10}, {"source goes back", 2, 10}, {"target goes back", 9, 3}, {"negative", -1, 10}} {
		m := mapOf(t, 0, pairs(0, 5, 0)...)
		if err := m.Add(tc.src, tc.dst); !errors.Is(err, errOffsetOrder) {
			t.Errorf("%s: Add(%d, %d) = %v, want errOffsetOrder", tc.name, tc.src, tc.dst, err)
		}
	}
}

// TestTranslate covers the committed offsets the proof names: at the
// start, at the end, inside a compacted gap, inside a filtered-out time
// window, before the backup's first offset and after an aborted
// transaction. The source partition is modelled as the backup held it:
//
//	source 100-109 → target 0-9    (backup begins at 100: retention before)
//	source 110-114 compacted away
//	source 115-119 → target 10-14
//	source 120-129 filtered out (time window)
//	source 130-134 → target 15-19
//	source 135-137 aborted transaction, 138 its abort marker
//	source 139-141 → target 20-22
//
// and the target ends at 23.
func TestTranslate(t *testing.T) {
	var ps [][2]int64
	ps = append(ps, pairs(100, 110, 0)...)
	ps = append(ps, pairs(115, 120, 10)...)
	ps = append(ps, pairs(130, 135, 15)...)
	ps = append(ps, pairs(139, 142, 20)...)
	m := mapOf(t, 0, ps...)
	if len(m.Ranges) != 4 {
		t.Fatalf("ranges %v, want 4", m.Ranges)
	}
	for _, tc := range []struct {
		name    string
		c       int64
		want    int64
		before  bool
		skipped int64
	}{
		{"nothing read, backup from the start", 100, 0, false, 0},
		{"before the backup's first offset", 0, 0, true, 100},
		{"just before the first offset", 99, 0, true, 1},
		{"inside the first range", 105, 5, false, 0},
		{"last of a range", 109, 9, false, 0},
		{"start of a compacted gap", 110, 10, false, 5},
		{"inside a compacted gap", 112, 10, false, 3},
		{"first after the gap", 115, 10, false, 0},
		{"inside the filtered-out window", 125, 15, false, 5},
		{"on the abort marker", 138, 20, false, 1},
		{"inside the aborted transaction", 136, 20, false, 3},
		{"after the aborted transaction", 139, 20, false, 0},
		{"last restored record", 141, 22, false, 0},
		{"everything read", 142, 23, false, 0},
		{"past the restored range", 500, 23, false, 0},
	} {
		got := m.Translate(tc.c)
		want := Translation{Target: tc.want, Before: tc.before, Skipped: tc.skipped}
		if got != want {
			t.Errorf("%s: Translate(%d) = %+v, want %+v", tc.name, tc.c, got, want)
		}
	}
}

func TestTranslateEmptyMap(t *testing.T) {
	m := &PartitionMap{End: 17}
	for _, c := range []int64{0, 17, 1000} {
		if got := m.Translate(c); got != (Translation{Target: 17}) {
			t.Errorf("Translate(%d) = %+v, want the target's end 17", c, got)
		}
	}
}

func TestOffsetMapsRoundTrip(t *testing.T) {
	maps := map[int32]*PartitionMap{
		0: mapOf(t, 0, append(pairs(0, 1000, 0), pairs(2000, 2001, 1000)...)...),
		3: {End: 42},
		7: mapOf(t, 5, pairs(1<<40, 1<<40+3, 5)...),
	}
	maps[7].End = 100 // the target grew after the restore
	b := EncodeOffsetMaps(maps)
	if len(b) > 40 {
		t.Errorf("encoded %d bytes for 4 ranges, want a few bytes a range", len(b))
	}
	got, err := DecodeOffsetMaps(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, maps) {
		t.Fatalf("decoded %v, want %v", got, maps)
	}
}

func TestDecodeOffsetMapsRefuses(t *testing.T) {
	good := EncodeOffsetMaps(map[int32]*PartitionMap{1: mapOf(t, 0, append(pairs(0, 3, 0), pairs(5, 6, 3)...)...)})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"other format", []byte("KBOM\x02\x00")},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"huge partition count", append([]byte(offsetMapMagic), 0xff, 0xff, 0xff, 0xff, 0x0f)},
		{"huge range count", append([]byte(offsetMapMagic), 1, 0, 0, 0xff, 0xff, 0xff, 0x7f)},
		{"empty range", append([]byte(offsetMapMagic), 1, 0, 5, 1, 0, 0, 0)},
		{"adjacent ranges", append([]byte(offsetMapMagic), 1, 0, 5, 2, 0, 0, 2, 0, 0, 3)},
		{"end before last range", append([]byte(offsetMapMagic), 1, 0, 1, 1, 0, 0, 5)},
		{"partitions out of order", append([]byte(offsetMapMagic), 2, 3, 0, 0, 1, 0, 0)},
	} {
		if _, err := DecodeOffsetMaps(tc.b); !errors.Is(err, ErrBadOffsetMap) {
			t.Errorf("%s: err %v, want ErrBadOffsetMap", tc.name, err)
		}
	}
}
