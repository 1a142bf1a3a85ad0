package store

import (
	"context"
	"testing"
)

// TestRequestCounts: the store counts each request it makes by kind.
func TestRequestCounts(t *testing.T) {
	ctx := context.Background()
	s := fileStore(t, "")
	before := s.Requests()
	l := testLease(t, s, "t")
	loc := Loc{Topic: "t", Version: 1}
	up, err := s.CreateSegment(ctx, l, loc, SegmentOptions{Codec: CodecNone})
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Append(&Record{Offset: 0, Timestamp: baseTime, Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListSegments(ctx, loc); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadManifest(ctx, "nothing"); !IsNotFound(err) {
		t.Fatal(err)
	}
	got := s.Requests().Sub(before)
	for _, tt := range []struct {
		op   Op
		min  int64
		errs int64
	}{
		{OpPut, 1, 0},    // the storage clock
		{OpStat, 1, 0},   // its time
		{OpList, 3, 0},   // the lease register (twice), the segments
		{OpUpload, 1, 0}, // the segment
		{OpGet, 2, 2},    // the format 1 lease and manifest, both missing
	} {
		if got.Requests[tt.op] < tt.min || got.Errors[tt.op] != tt.errs {
			t.Errorf("%s: %d requests, %d errors; want at least %d and %d", tt.op, got.Requests[tt.op], got.Errors[tt.op], tt.min, tt.errs)
		}
	}
	if got.Total() < 7 {
		t.Errorf("total %d", got.Total())
	}
}
