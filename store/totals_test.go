package store

import (
	"reflect"
	"testing"
	"time"
)

func TestTally(t *testing.T) {
	es := testEntries(7) // partitions 0,1,2 interleaved; every fifth has an expiry a day after it
	now := baseTime.Add(36 * time.Hour)
	tot := Tally(es, now)
	var recs, stored, dec int64
	for _, e := range es {
		recs, stored, dec = recs+e.Records, stored+e.StoredBytes, dec+e.DecodedBytes
	}
	if tot.Segments != 7 || tot.Records != recs || tot.StoredBytes != stored || tot.DecodedBytes != dec {
		t.Fatalf("totals %+v", tot)
	}
	if tot.ExpiredSegments != 2 || tot.ExpiredRecords != 18 {
		t.Errorf("expired %d segments, %d records; want 2 and 18", tot.ExpiredSegments, tot.ExpiredRecords)
	}
	if !tot.MinTimestamp.Equal(es[0].MinTimestamp) || !tot.MaxTimestamp.Equal(es[6].MaxTimestamp) || tot.FirstOffset != 1 {
		t.Errorf("ranges %+v", tot)
	}
	if empty := Tally(nil, now); empty.FirstOffset != -1 || empty.LastOffset != -1 || !empty.MinTimestamp.IsZero() {
		t.Errorf("totals of nothing %+v", empty)
	}
	ix := &Index{Segments: sortedEntries(es), Partitions: summaries(es)}
	if p1 := ix.PartitionTotals(1, now); p1.Segments != 2 {
		t.Errorf("partition 1 totals %+v", p1)
	}
	for _, tt := range []struct {
		s    Snapshot
		ix   *Index
		want []int32
	}{
		{Snapshot{Partitions: 2}, nil, []int32{0, 1}},
		{Snapshot{Partitions: 2}, ix, []int32{0, 1, 2}},
		{Snapshot{Partitions: 5}, ix, []int32{0, 1, 2, 3, 4}},
		{Snapshot{}, &Index{}, nil},
	} {
		if got := PartitionSet(&tt.s, tt.ix); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("PartitionSet(%d partitions) = %v, want %v", tt.s.Partitions, got, tt.want)
		}
	}
}

func TestBreaks(t *testing.T) {
	seg := func(p int32, start, next int64) SegmentEntry {
		return SegmentEntry{Partition: p, StartOffset: start, NextOffset: next}
	}
	for _, tt := range []struct {
		name    string
		entries []SegmentEntry
		starts  map[int32]int64
		want    []Break
	}{
		{"none", nil, nil, nil},
		{"continuous", []SegmentEntry{seg(0, 0, 10), seg(0, 10, 20), seg(1, 5, 6)}, nil, nil},
		{"gap", []SegmentEntry{seg(0, 0, 10), seg(0, 12, 20)}, nil, []Break{{Entry: 1, Want: 10}}},
		{"overlap", []SegmentEntry{seg(0, 0, 10), seg(0, 8, 20)}, nil, []Break{{Entry: 1, Want: 10}}},
		{"first unknown start", []SegmentEntry{seg(0, 7, 10)}, map[int32]int64{1: 0}, nil},
		{"first after known start", []SegmentEntry{seg(0, 0, 10), seg(1, 3, 4)}, map[int32]int64{0: 0, 1: 2}, []Break{{Entry: 1, Want: 2}}},
		{"next partition restarts", []SegmentEntry{seg(0, 0, 10), seg(1, 0, 4)}, nil, nil},
	} {
		if got := Breaks(tt.entries, tt.starts); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Breaks = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
