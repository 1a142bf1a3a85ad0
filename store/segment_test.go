package store

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"
)

var allCodecs = []Codec{CodecNone, CodecZstd, CodecLZ4, CodecSnappy, CodecGzip}

func TestSegmentRoundTrip(t *testing.T) {
	rs := testRecords(true)
	for _, c := range allCodecs {
		for _, bs := range []int{0, 512} {
			t.Run(c.String()+"/"+blockSizeName(bs), func(t *testing.T) {
				const skipTo = 5000 // trailing control records
				seg := writeSegment(t, c, bs, 5, rs, skipTo)
				if seg.size != int64(len(seg.data)) {
					t.Errorf("size %d, object has %d bytes", seg.size, len(seg.data))
				}
				if want := crc32c(seg.data); seg.crc != want {
					t.Errorf("crc %08x, crc32c of the object %08x", seg.crc, want)
				}
				sr, err := OpenSegmentReader(bytes.NewReader(seg.data), int64(len(seg.data)))
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				if sr.Size() != seg.size {
					t.Errorf("reader size %d, want %d", sr.Size(), seg.size)
				}
				checkInfo(t, sr.Info, &seg.info, rs, c, 5, skipTo)
				got := readAll(t, sr, 0)
				if len(got) != len(rs) {
					t.Fatalf("read %d records, wrote %d", len(got), len(rs))
				}
				for i := range rs {
					sameRecord(t, &got[i], &rs[i])
				}
				checkDecodedBytes(t, sr)
				blocks, err := ScanSegment(bytes.NewReader(seg.data), seg.size)
				if err != nil {
					t.Fatalf("scan intact segment: %v", err)
				}
				if len(blocks) != len(sr.Info.Blocks) {
					t.Fatalf("scan found %d blocks, footer lists %d", len(blocks), len(sr.Info.Blocks))
				}
			})
		}
	}
}

func blockSizeName(bs int) string {
	if bs <= 0 {
		return "default-blocks"
	}
	return "small-blocks"
}

// checkInfo compares the footer read back with what Close returned and with
// the records written.
func checkInfo(t *testing.T, got, closed *SegmentInfo, rs []Record, c Codec, start, next int64) {
	t.Helper()
	if len(got.Blocks) != len(closed.Blocks) {
		t.Fatalf("footer lists %d blocks, Close returned %d", len(got.Blocks), len(closed.Blocks))
	}
	for i := range got.Blocks {
		if got.Blocks[i] != closed.Blocks[i] {
			t.Errorf("block %d: footer %+v, Close %+v", i, got.Blocks[i], closed.Blocks[i])
		}
	}
	minTS, maxTS := int64(math.MaxInt64), int64(math.MinInt64)
	for _, r := range rs {
		minTS = min(minTS, r.Timestamp.UnixMilli())
		maxTS = max(maxTS, r.Timestamp.UnixMilli())
	}
	last := rs[len(rs)-1]
	want := SegmentInfo{
		Partition: 3, Codec: c, StartOffset: start, NextOffset: next,
		FirstOffset: rs[0].Offset, LastOffset: last.Offset,
		FirstTimestamp: rs[0].Timestamp.UnixMilli(), LastTimestamp: last.Timestamp.UnixMilli(),
		MinTimestamp: minTS, MaxTimestamp: maxTS, Records: int64(len(rs)),
		DecodedBytes: got.DecodedBytes, Blocks: got.Blocks,
	}
	if got.Partition != want.Partition || got.Codec != want.Codec || got.StartOffset != want.StartOffset ||
		got.NextOffset != want.NextOffset || got.FirstOffset != want.FirstOffset || got.LastOffset != want.LastOffset ||
		got.FirstTimestamp != want.FirstTimestamp || got.LastTimestamp != want.LastTimestamp ||
		got.MinTimestamp != want.MinTimestamp || got.MaxTimestamp != want.MaxTimestamp || got.Records != want.Records {
		t.Errorf("segment info\n got %+v\nwant %+v", summaryOf(got), summaryOf(&want))
	}
	var n int64
	pos := int64(fileHeaderLen)
	for i, b := range got.Blocks {
		if b.Pos != pos {
			t.Errorf("block %d at byte %d, want %d", i, b.Pos, pos)
		}
		pos += blockHeaderLen + int64(b.StoredLen)
		if b.Count == 0 || b.LastOffset < b.FirstOffset || b.MinTimestamp > b.MaxTimestamp {
			t.Errorf("block %d: implausible %+v", i, b)
		}
		if b.Codec != c && b.Codec != CodecNone {
			t.Errorf("block %d: codec %v in a %v segment", i, b.Codec, c)
		}
		n += int64(b.Count)
	}
	if n != int64(len(rs)) {
		t.Errorf("blocks count %d records, want %d", n, len(rs))
	}
}

func summaryOf(si *SegmentInfo) SegmentInfo {
	c := *si
	c.Blocks = nil
	return c
}

// checkDecodedBytes checks that DecodedBytes of every block and of the
// segment is the true length of the decoded records' JSON lines.
func checkDecodedBytes(t *testing.T, sr *SegmentReader) {
	t.Helper()
	var total int64
	var line []byte
	for i, b := range sr.Info.Blocks {
		p, err := sr.ReadBlock(i, nil)
		if err != nil {
			t.Fatalf("read block %d: %v", i, err)
		}
		var n int64
		if err := DecodeBlock(p, b.FirstOffset, func(r *Record) error {
			line = AppendJSONLine(line[:0], r)
			n += int64(len(line))
			return nil
		}); err != nil {
			t.Fatalf("decode block %d: %v", i, err)
		}
		if n != b.DecodedBytes {
			t.Errorf("block %d: DecodedBytes %d, JSON lines are %d bytes", i, b.DecodedBytes, n)
		}
		total += n
	}
	if total != sr.Info.DecodedBytes {
		t.Errorf("segment DecodedBytes %d, JSON lines are %d bytes", sr.Info.DecodedBytes, total)
	}
}

func TestSegmentIncompressibleLZ4(t *testing.T) {
	rs := testRecords(true)
	big := rs[len(rs)-1:] // the 1 MiB random value
	big[0].Offset = 0
	for _, c := range []Codec{CodecLZ4, CodecZstd, CodecSnappy, CodecGzip} {
		t.Run(c.String(), func(t *testing.T) {
			seg := writeSegment(t, c, 0, 0, big, 0)
			sr, err := OpenSegmentReader(bytes.NewReader(seg.data), seg.size)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(sr.Info.Blocks); n != 1 {
				t.Fatalf("%d blocks, want 1", n)
			}
			if b := sr.Info.Blocks[0]; b.Codec != CodecNone || b.StoredLen != b.RawLen {
				t.Errorf("incompressible block stored as %v, %d of %d bytes; want none, uncompressed", b.Codec, b.StoredLen, b.RawLen)
			}
			if sr.Info.Codec != c {
				t.Errorf("segment codec %v, want %v", sr.Info.Codec, c)
			}
			got := readAll(t, sr, 0)
			if len(got) != 1 {
				t.Fatalf("read %d records", len(got))
			}
			sameRecord(t, &got[0], &big[0])
		})
	}
}

func TestSegmentEmpty(t *testing.T) {
	seg := writeSegment(t, CodecZstd, 0, 42, nil, 50)
	sr, err := OpenSegmentReader(bytes.NewReader(seg.data), seg.size)
	if err != nil {
		t.Fatal(err)
	}
	si := sr.Info
	if si.Records != 0 || len(si.Blocks) != 0 || si.StartOffset != 42 || si.NextOffset != 50 || si.FirstOffset != -1 || si.LastOffset != -1 {
		t.Errorf("empty segment info %+v", *si)
	}
	if got := readAll(t, sr, 0); len(got) != 0 {
		t.Errorf("read %d records from an empty segment", len(got))
	}
	if _, err := ScanSegment(bytes.NewReader(seg.data), seg.size); err != nil {
		t.Errorf("scan empty segment: %v", err)
	}
}

func TestSegmentWriterOffsets(t *testing.T) {
	var buf bytes.Buffer
	sw := NewSegmentWriter(&buf, 0, CodecNone, 100, 0)
	if err := sw.Append(&Record{Offset: 99, Timestamp: baseTime}); err == nil {
		t.Error("append below the start offset succeeded")
	}
	if err := sw.Append(&Record{Offset: 103, Timestamp: baseTime}); err != nil {
		t.Fatal(err)
	}
	if sw.NextOffset() != 104 || sw.Records() != 1 {
		t.Errorf("next %d records %d, want 104 1", sw.NextOffset(), sw.Records())
	}
	sw.Skip(110)
	sw.Skip(105) // never moves back
	if sw.NextOffset() != 110 {
		t.Errorf("after Skip(110), Skip(105): next %d, want 110", sw.NextOffset())
	}
	if err := sw.Append(&Record{Offset: 109, Timestamp: baseTime}); err == nil {
		t.Error("append below a skipped offset succeeded")
	}
	if err := sw.Append(&Record{Offset: 110, Timestamp: baseTime}); err != nil {
		t.Fatal(err)
	}
	if sw.Size() <= fileHeaderLen {
		t.Errorf("size %d does not count the open block", sw.Size())
	}
	info, _, _, err := sw.Close()
	if err != nil {
		t.Fatal(err)
	}
	if info.StartOffset != 100 || info.NextOffset != 111 || info.FirstOffset != 103 || info.LastOffset != 110 {
		t.Errorf("info %+v", summaryOf(&info))
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestSegmentWriterError(t *testing.T) {
	sw := NewSegmentWriter(&failWriter{n: 1}, 0, CodecNone, 0, 16)
	var err error
	for i := int64(0); i < 10 && err == nil; i++ {
		err = sw.Append(&Record{Offset: i, Timestamp: baseTime, Value: []byte("0123456789abcdef")})
	}
	if err == nil {
		t.Fatal("append kept succeeding on a failing writer")
	}
	if _, _, _, err := sw.Close(); err == nil {
		t.Error("Close succeeded after a write error")
	}
}

func TestSegmentSeek(t *testing.T) {
	rs := testRecords(false)
	seg := writeSegment(t, CodecZstd, 256, 0, rs, 0)
	sr, err := OpenSegmentReader(bytes.NewReader(seg.data), seg.size)
	if err != nil {
		t.Fatal(err)
	}
	bs := sr.Info.Blocks
	if len(bs) < 4 {
		t.Fatalf("only %d blocks; the test needs several", len(bs))
	}

	t.Run("BlockForOffset", func(t *testing.T) {
		tests := []struct {
			off  int64
			want int
		}{
			{-1, 0},
			{bs[0].FirstOffset, 0},
			{bs[1].FirstOffset, 1},
			{bs[1].LastOffset, 1},
			{bs[1].LastOffset + 1, 2},
			{bs[len(bs)-1].LastOffset, len(bs) - 1},
			{bs[len(bs)-1].LastOffset + 1, len(bs)},
		}
		for _, tt := range tests {
			if got := sr.BlockForOffset(tt.off); got != tt.want {
				t.Errorf("BlockForOffset(%d) = %d, want %d", tt.off, got, tt.want)
			}
		}
		// An offset in a gap (16..19 are missing) maps to the block holding 20.
		i := sr.BlockForOffset(17)
		if i >= len(bs) || bs[i].LastOffset < 20 || (i > 0 && bs[i-1].LastOffset >= 17) {
			t.Errorf("BlockForOffset(17) = %d", i)
		}
	})

	t.Run("BlockForTimestamp", func(t *testing.T) {
		var probes []int64
		for _, b := range bs {
			probes = append(probes, b.MinTimestamp-1, b.MinTimestamp, b.MaxTimestamp, b.MaxTimestamp+1)
		}
		for _, ts := range probes {
			want := len(bs)
			for i, b := range bs {
				if b.MaxTimestamp >= ts {
					want = i
					break
				}
			}
			got := sr.BlockForTimestamp(ts)
			if got != want {
				t.Fatalf("BlockForTimestamp(%d) = %d, want %d", ts, got, want)
			}
			// No record before the block found is at or after ts.
			for i := 0; i < got; i++ {
				p, err := sr.ReadBlock(i, nil)
				if err != nil {
					t.Fatal(err)
				}
				_ = DecodeBlock(p, bs[i].FirstOffset, func(r *Record) error {
					if r.Timestamp.UnixMilli() >= ts {
						t.Fatalf("block %d holds offset %d at %d, before BlockForTimestamp(%d) = %d", i, r.Offset, r.Timestamp.UnixMilli(), ts, got)
					}
					return nil
				})
			}
		}
	})

	t.Run("BlockForDecodedPos", func(t *testing.T) {
		var at int64
		for i, b := range bs {
			for _, pos := range []int64{at, at + b.DecodedBytes/2, at + b.DecodedBytes - 1} {
				gi, gat := sr.BlockForDecodedPos(pos)
				if gi != i || gat != at {
					t.Errorf("BlockForDecodedPos(%d) = %d, %d; want %d, %d", pos, gi, gat, i, at)
				}
			}
			at += b.DecodedBytes
		}
		if gi, gat := sr.BlockForDecodedPos(at); gi != len(bs) || gat != at {
			t.Errorf("BlockForDecodedPos(end %d) = %d, %d; want %d, %d", at, gi, gat, len(bs), at)
		}
	})

	t.Run("Records", func(t *testing.T) {
		for _, from := range []int64{0, 10, 14, 16, 20, 21, 22, 1000, 1100, rs[len(rs)-1].Offset, rs[len(rs)-1].Offset + 1} {
			var want []Record
			for _, r := range rs {
				if r.Offset >= from {
					want = append(want, r)
				}
			}
			got := readAll(t, sr, from)
			if len(got) != len(want) {
				t.Fatalf("Records(%d): %d records, want %d", from, len(got), len(want))
			}
			for i := range want {
				sameRecord(t, &got[i], &want[i])
			}
		}
	})

	t.Run("RecordsStops", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := sr.Records(0, func(*Record) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 3 {
			t.Errorf("Records returned %v after %d records; want stop after 3", err, n)
		}
	})
}

// TestSegmentSubMillisecond: a record whose timestamp carries more than
// millisecond precision is stored at millisecond precision, and the recorded
// DecodedBytes must describe what a reader decodes.
func TestSegmentSubMillisecond(t *testing.T) {
	rs := []Record{
		{Offset: 0, Timestamp: baseTime.Add(456789 * time.Nanosecond), Value: []byte("a")},
		{Offset: 1, Timestamp: time.Date(2024, 1, 1, 0, 0, 0, 1, time.FixedZone("X", 3600)), Value: []byte("b")},
	}
	seg := writeSegment(t, CodecNone, 0, 0, rs, 0)
	sr, err := OpenSegmentReader(bytes.NewReader(seg.data), seg.size)
	if err != nil {
		t.Fatal(err)
	}
	checkDecodedBytes(t, sr)
	if _, err := ScanSegment(bytes.NewReader(seg.data), seg.size); err != nil {
		t.Errorf("scan of an intact segment: %v", err)
	}
}
