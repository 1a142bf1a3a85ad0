package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"
)

// TestWalkReadsWindows: a walk reads a segment smaller than the window in
// one request and a larger one in one request per window (plus its
// footer), never one per block, and returns every record.
func TestWalkReadsWindows(t *testing.T) {
	ctx := context.Background()
	s := fileStore(t, "")
	l, err := s.AcquireLease(ctx, "t", "me", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	loc := Loc{Topic: "t", Version: 1}
	for _, tc := range []struct {
		name      string
		records   int
		valueSize int
		maxRanges int64
	}{
		{"small segment, 40 blocks", 400, 1 << 10, 1}, // 400 KiB: the whole object at once
		// 24 MiB: 4 windows (each starts at the block the last one cut),
		// the trailer and the footer
		{"large segment, 24 MiB", 24 << 4, 64 << 10, 4 + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, err := s.CreateSegment(ctx, l, loc, SegmentOptions{Codec: CodecNone, BlockSize: 10 << 10})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.records {
				v := make([]byte, tc.valueSize)
				_, _ = rand.Read(v)
				if err := up.Append(&Record{Offset: int64(i), Timestamp: baseTime, Value: v}); err != nil {
					t.Fatal(err)
				}
			}
			e, err := up.Commit()
			if err != nil {
				t.Fatal(err)
			}
			sr, err := s.OpenSegment(ctx, loc, e.ULID, e.StoredBytes)
			if err != nil {
				t.Fatal(err)
			}
			if len(sr.Info.Blocks) < 20 {
				t.Fatalf("%d blocks: the test needs many", len(sr.Info.Blocks))
			}
			before := s.Requests()
			n := 0
			err = s.Walk(ctx, loc, []SegmentEntry{e}, Walk{Record: func(_ *SegmentEntry, r *Record) error {
				if r.Offset != int64(n) {
					return fmt.Errorf("record %d has offset %d", n, r.Offset)
				}
				n++
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.records {
				t.Fatalf("walked %d records, want %d", n, tc.records)
			}
			got := s.Requests().Sub(before)
			if r := got.Requests[OpRange] + got.Requests[OpGet]; r > tc.maxRanges {
				t.Errorf("%d read requests for %d blocks of %d bytes stored, want at most %d", r, len(sr.Info.Blocks), e.StoredBytes, tc.maxRanges)
			}
		})
	}
}
