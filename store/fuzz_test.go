package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/kbackup/kbackup/store/storetest/fuzzcheck"
)

// Fuzz targets for every decoder of stored bytes in this package. A plain
// `go test` runs their seeds: the f.Add calls and testdata/fuzz/<Name>/,
// which holds the crafted inputs of hostile_test.go (regenerate with
// `go test ./store/ -run TestFuzzCorpus -update`). `make fuzz` fuzzes each
// for FUZZTIME; `make test` for a few seconds.
//
// Every target asserts, besides no panic, that the code under test
// allocated no more than fuzzcheck.Base plus a bound proportional to what the
// input may honestly claim, and checks invariants of what it decoded.

// readError reports whether err is one a reader may return for damaged
// input: corruption, a newer format, or an encrypted segment read without
// a key; never a bare I/O error.
func readError(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrFormat) || errors.Is(err, ErrEncrypted)
}

// largestClaim returns the largest RawLen a block header in data claims
// with a valid checksum and within the limits: what a reader may allocate
// for one block. The footer cannot claim more, as its entries must match
// the block headers.
func largestClaim(data []byte) int {
	claim := 0
	for at := 0; ; {
		i := bytes.Index(data[at:], []byte(blockMagic))
		if i < 0 || at+i+blockHeaderLen > len(data) {
			return claim
		}
		at += i
		if b, err := parseBlockHeader(data[at:at+blockHeaderLen], int64(at)); err == nil && checkBlock(&b) == nil {
			claim = max(claim, int(b.RawLen))
		}
		at++
	}
}

// readBound is the most reading data as a segment may allocate: the
// object itself a few times over (stored blocks, footer, block table) and
// the raw buffer of the largest block twice.
func readBound(data []byte) uint64 {
	return fuzzcheck.Base + 4*uint64(len(data)) + 2*uint64(largestClaim(data))
}

// withChecksums returns a copy of data with the checksums a reader checks
// recomputed wherever data has a block header or a trailer, so that the
// fuzzer's mutations reach the checks behind the checksums.
func withChecksums(data []byte) []byte {
	d := bytes.Clone(data)
	be := binary.BigEndian
	for pos := fileHeaderLen; pos+blockHeaderLen <= len(d) && string(d[pos:pos+4]) == blockMagic; {
		end := pos + blockHeaderLen + int(be.Uint32(d[pos+8:]))
		if end <= len(d) {
			be.PutUint32(d[pos+16:], crc32c(d[pos+blockHeaderLen:end]))
		}
		be.PutUint32(d[pos+56:], crc32c(d[pos:pos+56]))
		pos = end
	}
	if len(d) >= trailerLen && string(d[len(d)-8:]) == segEndMagic {
		if n := int(be.Uint32(d[len(d)-trailerLen:])); n <= len(d)-trailerLen {
			be.PutUint32(d[len(d)-trailerLen+4:], crc32c(d[len(d)-trailerLen-n:len(d)-trailerLen]))
		}
	}
	return d
}

func FuzzSegmentReader(f *testing.F) {
	rs := testRecords(false)[:12]
	for _, c := range allCodecs {
		seg := writeSegment(f, c, 64, 0, rs, 0)
		f.Add(seg.data)
		f.Add(seg.data[:len(seg.data)/2])
		f.Add(seg.data[:len(seg.data)-trailerLen])
	}
	f.Add(writeSegment(f, CodecNone, 0, 7, nil, 9).data)
	f.Add([]byte{})
	f.Add([]byte(segMagic + "\x01\x00\x00\x00\x00\x00\x00\x00" + segEndMagic))
	zstdCoders()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSegmentBytes(t, data)
		checkSegmentBytes(t, withChecksums(data))
	})
}

// checkSegmentBytes reads data as a segment every way a reader can, within
// readBound, and checks that the ways agree.
func checkSegmentBytes(t *testing.T, data []byte) {
	size := int64(len(data))
	var blocks []BlockInfo
	var scanErr, openErr, recErr error
	var sr *SegmentReader
	fuzzcheck.Bounded(t, "reading the segment", readBound(data), func() {
		blocks, scanErr = ScanSegment(bytes.NewReader(data), size)
		sr, openErr = OpenSegmentReader(bytes.NewReader(data), size)
		if openErr == nil {
			recErr = checkRecords(sr)
		}
	})
	for _, err := range []error{scanErr, openErr, recErr} {
		if err != nil && !readError(err) {
			t.Fatalf("error %q wraps neither ErrCorrupt nor ErrFormat", err)
		}
	}
	pos := int64(fileHeaderLen)
	for i := range blocks {
		if blocks[i].Pos != pos || checkBlock(&blocks[i]) != nil {
			t.Fatalf("ScanSegment returned block %d %+v, not one at byte %d within the limits", i, blocks[i], pos)
		}
		pos += blockHeaderLen + int64(blocks[i].StoredLen)
	}
	if len(blocks) > 0 && pos > size {
		t.Fatalf("ScanSegment returned blocks ending at byte %d of %d", pos, size)
	}
	if scanErr != nil {
		return
	}
	// A segment the full scan accepts is sound every other way.
	if openErr != nil || recErr != nil {
		t.Fatalf("ScanSegment accepted a segment that fails to open (%v) or read (%v)", openErr, recErr)
	}
	if len(blocks) != len(sr.Info.Blocks) {
		t.Fatalf("ScanSegment found %d blocks, the footer lists %d", len(blocks), len(sr.Info.Blocks))
	}
	for i := range blocks {
		if blocks[i] != sr.Info.Blocks[i] {
			t.Fatalf("block %d: scan %+v, footer %+v", i, blocks[i], sr.Info.Blocks[i])
		}
	}
	checkSeeks(t, sr)
}

// checkRecords reads every record of sr, checking that offsets rise within
// the footer's range and that there are as many as it says. It allocates
// nothing itself.
func checkRecords(sr *SegmentReader) error {
	var n int64
	last := sr.Info.FirstOffset - 1
	err := sr.Records(sr.Info.FirstOffset, func(r *Record) error {
		if r.Offset <= last || r.Offset > sr.Info.LastOffset {
			return errors.New("record offsets out of order or range")
		}
		last = r.Offset
		n++
		return nil
	})
	if err == nil && n != sr.Info.Records {
		return errors.New("record count differs from the footer")
	}
	return err
}

// checkSeeks checks every seek of sr against a plain walk of its blocks.
func checkSeeks(t *testing.T, sr *SegmentReader) {
	t.Helper()
	bs := sr.Info.Blocks
	var probes []int64
	for _, b := range bs {
		probes = append(probes, b.FirstOffset-1, b.FirstOffset, b.LastOffset, b.LastOffset+1)
	}
	for _, off := range probes {
		i := sr.BlockForOffset(off)
		if (i < len(bs) && bs[i].LastOffset < off) || (i > 0 && bs[i-1].LastOffset >= off) {
			t.Fatalf("BlockForOffset(%d) = %d", off, i)
		}
	}
	for _, b := range bs {
		for _, ts := range []int64{b.MinTimestamp, b.MaxTimestamp, b.MaxTimestamp + 1} {
			i := sr.BlockForTimestamp(ts)
			for j := 0; j < i && j < len(bs); j++ {
				if bs[j].MaxTimestamp >= ts {
					t.Fatalf("BlockForTimestamp(%d) = %d skips block %d", ts, i, j)
				}
			}
			if i < len(bs) && bs[i].MaxTimestamp < ts {
				t.Fatalf("BlockForTimestamp(%d) = %d, a block without such records", ts, i)
			}
		}
	}
	var at int64
	for i, b := range bs {
		for _, pos := range []int64{at, at + b.DecodedBytes - 1} {
			if gi, gat := sr.BlockForDecodedPos(pos); gi != i || gat != at {
				t.Fatalf("BlockForDecodedPos(%d) = %d, %d; want %d, %d", pos, gi, gat, i, at)
			}
		}
		at += b.DecodedBytes
	}
	if at != sr.Info.DecodedBytes {
		t.Fatalf("blocks decode to %d bytes, the footer says %d", at, sr.Info.DecodedBytes)
	}
	if gi, _ := sr.BlockForDecodedPos(at); gi != len(bs) {
		t.Fatalf("BlockForDecodedPos(end) = %d, want %d", gi, len(bs))
	}
}

// fuzzRecords turns fuzz bytes into records the writer accepts, every field
// (null or empty keys, values and header values, gaps, timestamps far from
// now, both timestamp types) drawn from data.
func fuzzRecords(data []byte) []Record {
	g := fuzzSource(data)
	var rs []Record
	off := int64(g.uint16())
	for len(g) > 0 && len(rs) < 2000 {
		flags := g.byte()
		r := Record{Offset: off, LeaderEpoch: int32(g.uint16()) - 1}
		ts := baseTime.UnixMilli() + int64(int16(g.uint16()))
		if flags&0x40 != 0 {
			ts = int64(g.uint64())
		}
		r.Timestamp = msTime(ts)
		if flags&0x01 != 0 {
			r.TimestampType = TimestampLogAppend
		}
		if flags&0x02 == 0 {
			r.Key = g.bytes(int(g.byte() % 32))
		}
		if flags&0x04 == 0 {
			r.Value = g.bytes(int(g.uint16() % 4096))
		}
		for range int(flags>>3) & 3 {
			h := Header{Key: string(g.bytes(int(g.byte() % 8)))}
			if g.byte()&1 == 0 {
				h.Value = g.bytes(int(g.byte() % 16))
			}
			r.Headers = append(r.Headers, h)
		}
		rs = append(rs, r)
		off += 1 + int64(g.byte()%4) // offsets may have gaps
	}
	return rs
}

// fuzzSource hands out fuzz bytes, zeros once they run out.
type fuzzSource []byte

func (g *fuzzSource) byte() byte {
	if len(*g) == 0 {
		return 0
	}
	b := (*g)[0]
	*g = (*g)[1:]
	return b
}

func (g *fuzzSource) uint16() uint16 { return uint16(g.byte())<<8 | uint16(g.byte()) }

func (g *fuzzSource) uint64() uint64 {
	var v uint64
	for range 8 {
		v = v<<8 | uint64(g.byte())
	}
	return v
}

// bytes returns the next n bytes (fewer if data runs out), never nil.
func (g *fuzzSource) bytes(n int) []byte {
	n = min(n, len(*g))
	b := append([]byte{}, (*g)[:n]...)
	*g = (*g)[n:]
	return b
}

// FuzzSegmentRoundTrip: whatever records are written, the reader returns
// them identically, the footer is what Close returned, and the full scan,
// the seeks and DecodedBytes agree.
func FuzzSegmentRoundTrip(f *testing.F) {
	f.Add([]byte("\x00\x0a\x00\x00\x01\x00\x00\x03key\x00\x05value\x00"), byte(1), uint16(0), uint8(0))
	f.Add(bytes.Repeat([]byte("\x5a\x01\x02\x03\x00\x10compressible compressible\x01"), 40), byte(2), uint16(64), uint8(3))
	f.Add(bytes.Repeat([]byte{0xff, 0x80, 0x00, 0x7f}, 300), byte(4), uint16(1), uint8(200))
	f.Add([]byte{}, byte(0), uint16(0), uint8(5))
	zstdCoders()
	f.Fuzz(func(t *testing.T, data []byte, codec byte, blockSize uint16, skip uint8) {
		rs := fuzzRecords(data)
		c := allCodecs[int(codec)%len(allCodecs)]
		start := int64(0)
		if len(rs) > 0 {
			start = max(0, rs[0].Offset-int64(skip%3))
		}
		next := start + int64(skip)
		if len(rs) > 0 {
			next = rs[len(rs)-1].Offset + 1 + int64(skip)
		}
		seg := writeSegment(t, c, int(blockSize), start, rs, next)
		if seg.size != int64(len(seg.data)) || seg.crc != crc32c(seg.data) {
			t.Fatalf("Close says %d bytes, crc %08x; object has %d, crc %08x", seg.size, seg.crc, len(seg.data), crc32c(seg.data))
		}
		var sr *SegmentReader
		var err error
		fuzzcheck.Bounded(t, "opening and scanning", readBound(seg.data), func() {
			if _, err = ScanSegment(bytes.NewReader(seg.data), seg.size); err == nil {
				sr, err = OpenSegmentReader(bytes.NewReader(seg.data), seg.size)
			}
		})
		if err != nil {
			t.Fatalf("reading what the writer wrote: %v", err)
		}
		if !sameInfo(sr.Info, &seg.info) {
			t.Fatalf("footer %+v, Close returned %+v", summaryOf(sr.Info), summaryOf(&seg.info))
		}
		if sr.Info.StartOffset != start || sr.Info.NextOffset != next || sr.Info.Records != int64(len(rs)) {
			t.Fatalf("footer start %d next %d records %d; wrote %d, %d, %d", sr.Info.StartOffset, sr.Info.NextOffset, sr.Info.Records, start, next, len(rs))
		}
		got := readAll(t, sr, -1)
		if len(got) != len(rs) {
			t.Fatalf("read %d records, wrote %d", len(got), len(rs))
		}
		for i := range rs {
			want := rs[i]
			want.Timestamp = msTime(want.Timestamp.UnixMilli())
			sameRecord(t, &got[i], &want)
		}
		if len(rs) > 0 {
			from := rs[len(rs)/2].Offset
			if tail := readAll(t, sr, from); len(tail) != len(rs)-len(rs)/2 || tail[0].Offset != from {
				t.Fatalf("Records(%d) returned %d records", from, len(tail))
			}
		}
		checkDecodedBytes(t, sr)
		checkSeeks(t, sr)
	})
}

// sameInfo reports whether two segment descriptions are equal.
func sameInfo(a, b *SegmentInfo) bool {
	if !reflect.DeepEqual(summaryOf(a), summaryOf(b)) || len(a.Blocks) != len(b.Blocks) {
		return false
	}
	for i := range a.Blocks {
		if a.Blocks[i] != b.Blocks[i] {
			return false
		}
	}
	return true
}
