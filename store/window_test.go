package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestWalkReadsWindows: a walk reads a segment smaller than the window in
// one request and a larger one in one request per window (plus its
// footer), never one per block, and returns every record.
func TestWalkReadsWindows(t *testing.T) {
	ctx := context.Background()
	s := fileStore(t, "")
	l := testLease(t, s, "t")
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

// TestReadAheadWindows: a segment opened for reads in order
// (OpenSegmentReadAhead) fetches blocks read one after the other in
// growing windows, a few requests for a 24 MiB segment instead of one per
// block; blocks read in reverse fetch only themselves (a window would be
// wasted); and blocks taken in order by four goroutines reading at once
// come back right, in few requests.
func TestReadAheadWindows(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mib       int
		inOrderAt int64 // most read requests in order
	}{
		// Trailer, footer, the first block alone, then windows of 1, 2, 4
		// and 8 MiB and two more of 8 MiB at most.
		{"24 MiB", 24, 10},
		// Trailer, footer, the first block, windows of 1 and 2 MiB.
		{"3 MiB", 3, 5},
	} {
		t.Run(tc.name, func(t *testing.T) { testReadAheadWindows(t, tc.mib, tc.inOrderAt) })
	}
}

func testReadAheadWindows(t *testing.T, mib int, inOrderAt int64) {
	ctx := context.Background()
	s := fileStore(t, "")
	l := testLease(t, s, "t")
	loc := Loc{Topic: "t", Version: 1}
	up, err := s.CreateSegment(ctx, l, loc, SegmentOptions{Codec: CodecNone, BlockSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	records := mib << 4 // 64 KiB values
	values := make([][]byte, records)
	for i := range values {
		values[i] = make([]byte, 64<<10)
		_, _ = rand.Read(values[i])
		if err := up.Append(&Record{Offset: int64(i), Timestamp: baseTime, Value: values[i]}); err != nil {
			t.Fatal(err)
		}
	}
	e, err := up.Commit()
	if err != nil {
		t.Fatal(err)
	}
	// check reads block b through sr and compares its records.
	check := func(sr *SegmentReader, b int) error {
		raw, err := sr.ReadBlock(b, nil)
		if err != nil {
			return err
		}
		bi := sr.Info.Blocks[b]
		n := bi.FirstOffset
		err = DecodeBlock(raw, bi.FirstOffset, func(r *Record) error {
			if r.Offset != n || string(r.Value) != string(values[n]) {
				return fmt.Errorf("block %d: record %d differs", b, n)
			}
			n++
			return nil
		})
		if err == nil && n != bi.LastOffset+1 {
			err = fmt.Errorf("block %d: %d records, want %d", b, n-bi.FirstOffset, bi.LastOffset-bi.FirstOffset+1)
		}
		return err
	}
	reads := func(before RequestCounts) int64 {
		got := s.Requests().Sub(before)
		return got.Requests[OpRange] + got.Requests[OpGet]
	}
	open := func() (*SegmentReader, RequestCounts) {
		before := s.Requests()
		sr, err := s.OpenSegmentReadAhead(ctx, loc, e.ULID, e.StoredBytes)
		if err != nil {
			t.Fatal(err)
		}
		return sr, before
	}

	sr, before := open()
	blocks := len(sr.Info.Blocks)
	if blocks < 8*mib/2 {
		t.Fatalf("%d blocks: the test needs many", blocks)
	}
	for b := range blocks {
		if err := check(sr, b); err != nil {
			t.Fatal(err)
		}
	}
	if n := reads(before); n > inOrderAt {
		t.Errorf("in order: %d read requests for %d blocks, want at most %d", n, blocks, inOrderAt)
	}

	sr, before = open()
	for b := blocks - 1; b >= 0; b-- {
		if err := check(sr, b); err != nil {
			t.Fatal(err)
		}
	}
	if n := reads(before); n != int64(blocks)+2 {
		t.Errorf("in reverse: %d read requests for %d blocks, want one per block and two for the footer", n, blocks)
	}

	sr, before = open()
	var wg sync.WaitGroup
	var nextBlock atomic.Int64
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b := int(nextBlock.Add(1) - 1)
				if b >= blocks {
					return
				}
				if err := check(sr, b); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Blocks taken in order but read in parallel arrive a little out of
	// order: the stragglers are fetched alone.
	if n := reads(before); n > int64(blocks)/8+inOrderAt {
		t.Errorf("four readers taking blocks in turn: %d read requests for %d blocks, want at most %d", n, blocks, int64(blocks)/8+inOrderAt)
	} else {
		t.Logf("four readers taking blocks in turn: %d read requests for %d blocks", n, blocks)
	}
}
