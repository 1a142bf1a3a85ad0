package store

import (
	"sort"
	"time"
)

// Totals sums index entries: what a snapshot or a partition holds.
type Totals struct {
	Segments     int64
	Records      int64
	StoredBytes  int64
	DecodedBytes int64
	// FirstOffset and LastOffset are the offsets of the first and last
	// record (-1 when there is none); NextOffset is the fetch position
	// after the last entry.
	FirstOffset, LastOffset, NextOffset int64
	// MinTimestamp and MaxTimestamp bound the records' timestamps (zero
	// when there is none).
	MinTimestamp, MaxTimestamp time.Time
	// ExpiredSegments and ExpiredRecords count the entries retention
	// expired at the time given to Tally; they are included above too.
	ExpiredSegments, ExpiredRecords int64
}

// Tally sums entries, counting those expired at now apart as well.
func Tally(entries []SegmentEntry, now time.Time) Totals {
	t := Totals{FirstOffset: -1, LastOffset: -1}
	for i := range entries {
		t.add(&entries[i], now)
	}
	return t
}

func (t *Totals) add(e *SegmentEntry, now time.Time) {
	t.Segments++
	t.Records += e.Records
	t.StoredBytes += e.StoredBytes
	t.DecodedBytes += e.DecodedBytes
	t.NextOffset = max(t.NextOffset, e.NextOffset)
	if e.Expired(now) {
		t.ExpiredSegments++
		t.ExpiredRecords += e.Records
	}
	if e.Records == 0 {
		return
	}
	if t.FirstOffset < 0 || e.FirstOffset < t.FirstOffset {
		t.FirstOffset = e.FirstOffset
	}
	t.LastOffset = max(t.LastOffset, e.LastOffset)
	if t.MinTimestamp.IsZero() || e.MinTimestamp.Before(t.MinTimestamp) {
		t.MinTimestamp = e.MinTimestamp
	}
	if e.MaxTimestamp.After(t.MaxTimestamp) {
		t.MaxTimestamp = e.MaxTimestamp
	}
}

// Totals sums the whole index at now.
func (ix *Index) Totals(now time.Time) Totals { return Tally(ix.Segments, now) }

// PartitionTotals sums partition p at now.
func (ix *Index) PartitionTotals(p int32, now time.Time) Totals { return Tally(ix.Partition(p), now) }

// PartitionSet returns the partitions of snapshot s: those its manifest
// counts and those its index has segments for (ix may be nil), ascending.
func PartitionSet(s *Snapshot, ix *Index) []int32 {
	seen := map[int32]bool{}
	var out []int32
	for p := int32(0); p < s.Partitions; p++ {
		out = append(out, p)
		seen[p] = true
	}
	if ix != nil {
		for _, p := range ix.PartitionIDs() {
			if !seen[p] {
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// NextOffsets returns where the version after ix continues, per partition:
// each partition's next offset in ix (which may be nil), else the offset
// ix's version started at, from prevStarts (a partition that got no
// segment in that version). It never returns nil.
func (ix *Index) NextOffsets(prevStarts map[int32]int64) map[int32]int64 {
	out := map[int32]int64{}
	for p, off := range prevStarts {
		out[p] = off
	}
	if ix != nil {
		for p, ps := range ix.Partitions {
			out[p] = ps.NextOffset
		}
	}
	return out
}

// Break is a place where a partition's entries do not follow each other:
// entry Entry (an index into the entries given to Breaks) starts at another
// offset than Want, where the partition's previous entry ended (or, for the
// partition's first entry, where its version starts). A later start is a
// gap, an earlier one an overlap.
type Break struct {
	Entry int
	Want  int64
}

// Breaks returns the breaks of entries, which are in partition and offset
// order (as Index.Segments), in that order. starts are the offsets the
// version starts at per partition (Snapshot.StartOffsets; nil when unknown):
// a partition's first entry is checked only against a known start.
func Breaks(entries []SegmentEntry, starts map[int32]int64) []Break {
	var out []Break
	for i := range entries {
		e := &entries[i]
		want, has := starts[e.Partition]
		if i > 0 && entries[i-1].Partition == e.Partition {
			want, has = entries[i-1].NextOffset, true
		}
		if has && e.StartOffset != want {
			out = append(out, Break{Entry: i, Want: want})
		}
	}
	return out
}
