package store

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/store/storetest/fuzzcheck"
)

// TestSegmentWriterLimits: the writer refuses what the format's limits
// exclude, keeps the segment intact when it does, and what it writes at the
// limits reads back.
func TestSegmentWriterLimits(t *testing.T) {
	t.Run("block size above the limit", func(t *testing.T) {
		sw := NewSegmentWriter(&bytes.Buffer{}, 0, CodecNone, 0, MaxBlockLen+1)
		if err := sw.Append(&Record{Timestamp: baseTime}); err == nil || !strings.Contains(err.Error(), "block size") {
			t.Errorf("append with block size %d: %v, want an error about the block size", MaxBlockLen+1, err)
		}
	})
	t.Run("records the format cannot hold", func(t *testing.T) {
		var buf bytes.Buffer
		sw := NewSegmentWriter(&buf, 0, CodecZstd, 0, 0)
		tooBig := &Record{Offset: 0, Timestamp: baseTime, Value: make([]byte, MaxBlockLen)}
		if err := sw.Append(tooBig); err == nil || !strings.Contains(err.Error(), "bytes encoded, above the limit") {
			t.Errorf("append of a %d-byte value: %v, want a size error", MaxBlockLen, err)
		}
		tooMany := &Record{Offset: 0, Timestamp: baseTime, Headers: make([]Header, MaxRecordHeaders+1)}
		if err := sw.Append(tooMany); err == nil || !strings.Contains(err.Error(), "headers, above the limit") {
			t.Errorf("append with %d headers: %v, want a header count error", MaxRecordHeaders+1, err)
		}
		ok := Record{Offset: 0, Timestamp: baseTime, Value: []byte("fits"), Headers: make([]Header, MaxRecordHeaders)}
		if err := sw.Append(&ok); err != nil {
			t.Fatalf("append after refused records: %v", err)
		}
		info, size, _, err := sw.Close()
		if err != nil || info.Records != 1 {
			t.Fatalf("close: %d records, %v", info.Records, err)
		}
		sr, err := OpenSegmentReader(bytes.NewReader(buf.Bytes()), size)
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, sr, 0)
		if len(got) != 1 {
			t.Fatalf("read %d records, want 1", len(got))
		}
		sameRecord(t, &got[0], &ok)
	})
	t.Run("record filling a block", func(t *testing.T) {
		small := Record{Offset: 7, Timestamp: baseTime, Value: []byte("first")}
		// Printable bytes: rendering and checking them stays fast under -race.
		big := Record{Offset: 8, Timestamp: baseTime, Value: bytes.Repeat([]byte("x"), MaxBlockLen)}
		big.Value = big.Value[:len(big.Value)-(encodedLen(&big, big.Offset)-MaxBlockLen)]
		if n := encodedLen(&big, big.Offset); n != MaxBlockLen {
			t.Fatalf("big record encodes to %d bytes, want %d", n, MaxBlockLen)
		}
		// The block size would keep both in one block; the limit splits them.
		seg := writeSegment(t, CodecZstd, MaxBlockLen, 0, []Record{small, big}, 0)
		bs := seg.info.Blocks
		if len(bs) != 2 || bs[0].Count != 1 || bs[1].RawLen != MaxBlockLen {
			t.Fatalf("blocks %+v, want the big record alone in a block of %d bytes", bs, MaxBlockLen)
		}
		sr, err := OpenSegmentReader(bytes.NewReader(seg.data), seg.size)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 64)
		n := fuzzcheck.Bounded(t, "reading the largest block", MaxBlockLen+4<<20, func() {
			buf, err = sr.ReadBlock(1, buf)
		})
		t.Logf("reading the largest block allocated %s", fuzzcheck.MiB(n))
		if err != nil || len(buf) != MaxBlockLen {
			t.Fatalf("read largest block: %d bytes, %v", len(buf), err)
		}
		i := 0
		if err := sr.Records(0, func(r *Record) error {
			sameRecord(t, r, []*Record{&small, &big}[i])
			i++
			return nil
		}); err != nil || i != 2 {
			t.Fatalf("read %d records, want 2: %v", i, err)
		}
		if _, err := ScanSegment(bytes.NewReader(seg.data), seg.size); err != nil {
			t.Errorf("scan: %v", err)
		}
	})
	t.Run("records per block", func(t *testing.T) {
		rs := make([]Record, maxBlockRecords+1)
		for i := range rs {
			rs[i] = Record{Offset: int64(i), Timestamp: baseTime}
		}
		seg := writeSegment(t, CodecNone, MaxBlockLen, 0, rs, 0)
		if bs := seg.info.Blocks; len(bs) != 2 || bs[0].Count != maxBlockRecords {
			t.Fatalf("%d blocks, the first of %d records; want 2, the first of %d", len(bs), bs[0].Count, maxBlockRecords)
		}
		if _, err := ScanSegment(bytes.NewReader(seg.data), seg.size); err != nil {
			t.Errorf("scan: %v", err)
		}
	})
	t.Run("blocks per segment", func(t *testing.T) {
		var buf bytes.Buffer
		sw := NewSegmentWriter(&buf, 0, CodecNone, 0, 1) // a block per record
		r := Record{Timestamp: baseTime}
		for i := range MaxSegmentBlocks {
			r.Offset = int64(i)
			if err := sw.Append(&r); err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
		}
		r.Offset++
		if err := sw.Append(&r); err == nil || !strings.Contains(err.Error(), "roll it first") {
			t.Errorf("append to a full segment: %v, want an error saying to roll", err)
		}
		info, size, _, err := sw.Close()
		if err != nil || len(info.Blocks) != MaxSegmentBlocks {
			t.Fatalf("close: %d blocks, %v", len(info.Blocks), err)
		}
		sr, err := OpenSegmentReader(bytes.NewReader(buf.Bytes()), size)
		if err != nil {
			t.Fatalf("open a segment of %d blocks: %v", MaxSegmentBlocks, err)
		}
		if sr.Info.Records != MaxSegmentBlocks {
			t.Errorf("%d records, want %d", sr.Info.Records, MaxSegmentBlocks)
		}
	})
}

// TestReadBlockMemory: reading a block allocates its stored bytes and, if
// compressed, its raw bytes, once; never more.
func TestReadBlockMemory(t *testing.T) {
	rs := []Record{{Offset: 0, Timestamp: baseTime, Value: bytes.Repeat([]byte("0123456789abcdef"), 1<<16)}} // 1 MiB
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			seg := writeSegment(t, c, 0, 0, rs, 0)
			sr, err := OpenSegmentReader(bytes.NewReader(seg.data), seg.size)
			if err != nil {
				t.Fatal(err)
			}
			b := sr.Info.Blocks[0]
			sr.ReadBlock(0, nil) // decoder state
			want := uint64(b.StoredLen) + uint64(b.RawLen)
			if c == CodecNone {
				want = uint64(b.StoredLen)
			}
			var p []byte
			n := fuzzcheck.Bounded(t, "ReadBlock", want+want/4+256<<10, func() { p, err = sr.ReadBlock(0, nil) })
			if err != nil || len(p) != int(b.RawLen) {
				t.Fatalf("read %d bytes, %v", len(p), err)
			}
			t.Logf("%v block (%d bytes stored, %d raw): ReadBlock allocated %s", c, b.StoredLen, b.RawLen, fuzzcheck.MiB(n))
			fuzzcheck.Bounded(t, "ReadBlock into a large enough buffer", uint64(b.StoredLen)+256<<10, func() { _, err = sr.ReadBlock(0, p) })
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEncodedLen: encodedLen predicts appendRecord's length.
func TestEncodedLen(t *testing.T) {
	for _, r := range append(testRecords(false), goldenRecords()...) {
		for _, base := range []int64{r.Offset, 0, r.Offset - 1<<40} {
			if got, want := encodedLen(&r, base), len(appendRecord(nil, &r, base)); got != want {
				t.Errorf("offset %d base %d: encodedLen %d, appendRecord wrote %d", r.Offset, base, got, want)
			}
		}
	}
}
