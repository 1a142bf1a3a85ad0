package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/store/storetest/fuzzcheck"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Segments crafted by someone who can write the bucket: every checksum is
// right, so only the reader's limits stand between a length field and an
// allocation.

// craftSegment returns a segment holding one block whose header names codec
// c and raw length rawLen over the stored payload, with a footer that
// agrees and every checksum right.
func craftSegment(c Codec, rawLen uint32, payload []byte) []byte {
	return craftBlocks(BlockInfo{Codec: c, RawLen: rawLen, Count: 1}, payload)
}

// craftBlocks returns a segment holding one block with the header fields of
// b over payload, and a footer that agrees with b; it fills in the
// position, stored length and checksums, and DecodedBytes if zero.
func craftBlocks(b BlockInfo, payload []byte) []byte {
	b.Pos, b.StoredLen, b.CRC = fileHeaderLen, uint32(len(payload)), crc32c(payload)
	if b.DecodedBytes == 0 {
		b.DecodedBytes = 120 * int64(b.Count)
	}
	d := make([]byte, fileHeaderLen, fileHeaderLen+blockHeaderLen+len(payload))
	copy(d, segMagic)
	d[8], d[9] = segVersion, byte(b.Codec)
	var hdr [blockHeaderLen]byte
	putBlockHeader(hdr[:], &b)
	d = append(append(d, hdr[:]...), payload...)
	si := SegmentInfo{Codec: b.Codec, StartOffset: b.FirstOffset, NextOffset: b.LastOffset + 1,
		FirstOffset: b.FirstOffset, LastOffset: b.LastOffset, Records: int64(b.Count),
		FirstTimestamp: b.MinTimestamp, LastTimestamp: b.MaxTimestamp, MinTimestamp: b.MinTimestamp, MaxTimestamp: b.MaxTimestamp,
		DecodedBytes: b.DecodedBytes, Blocks: []BlockInfo{b}}
	return appendFooter(d, &si)
}

// zeroBomb compresses n zero bytes with c, streaming, so the test never
// holds them. withSize records the content size in the zstd frame header.
func zeroBomb(t testing.TB, c Codec, n int, withSize bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch c {
	case CodecZstd:
		zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		if withSize {
			zw.ResetContentSize(&buf, int64(n))
		} else {
			zw.Reset(&buf)
		}
		w = zw
	case CodecGzip:
		w, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	default:
		t.Fatalf("no bomb for %v", c)
	}
	zeros := make([]byte, 1<<20)
	for ; n > 0; n -= len(zeros) {
		if _, err := w.Write(zeros[:min(n, len(zeros))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// headerBomb returns the raw payload of one record with n headers, each an
// empty key and a null value: two bytes that decode to a 40-byte Header.
func headerBomb(n int) []byte {
	p := []byte{0, flagKeyNull | flagValueNull, 0, 0}
	p = binary.AppendUvarint(p, uint64(n))
	for range n {
		p = append(p, 0, 1) // key length 0, value length -1 (zigzag 1)
	}
	return p
}

// sparseReader is an object of size bytes whose last bytes are tail; reads
// anywhere else fail, as if the object were too big to have been fetched.
type sparseReader struct {
	size int64
	tail []byte
}

func (r *sparseReader) ReadAt(p []byte, off int64) (int, error) {
	at := r.size - int64(len(r.tail))
	if off < at || off+int64(len(p)) > r.size {
		return 0, errors.New("sparse object: read outside its tail")
	}
	return copy(p, r.tail[off-at:]), nil
}

// hostileSegment is a crafted segment and what its rejection must say.
type hostileSegment struct {
	name string
	data []byte
	want string
}

// hostileSegments are crafted segments that readers must reject with a
// bounded amount of memory. The zstd bombs decode to bomb bytes, the gzip
// bomb to a quarter of that (deflate expands 1032 times at most).
func hostileSegments(t testing.TB, bomb int) []hostileSegment {
	enc, _ := zstdCoders()
	return []hostileSegment{
		// The 248-byte segment: a raw length drives make.
		{"none block claims 4 GiB", craftSegment(CodecNone, 1<<32-1, []byte{0, 6, 0, 0, 0}), "raw length 4294967295 is above the limit"},
		{"zstd block claims 4 GiB", craftSegment(CodecZstd, 1<<32-1, enc.EncodeAll([]byte{0, 6, 0, 0, 0}, nil)), "raw length 4294967295 is above the limit"},
		// Zeros in a few KB, in a block claiming 1 MiB.
		{"zstd bomb with content size", craftSegment(CodecZstd, 1<<20, zeroBomb(t, CodecZstd, bomb, true)), fmt.Sprintf("frame holds %d bytes, header says 1048576", bomb)},
		{"zstd bomb without content size", craftSegment(CodecZstd, 1<<20, zeroBomb(t, CodecZstd, bomb, false)), "zstd block: decompressed size exceeds"},
		{"gzip bomb", craftSegment(CodecGzip, 1<<20, zeroBomb(t, CodecGzip, bomb/4, false)), "decodes to more than the 1048576 bytes"},
		// The snappy stream's own length says 4 GiB.
		{"snappy stream claims 4 GiB", craftSegment(CodecSnappy, 64, []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0}), "stream holds 4294967295 bytes, header says 64"},
		// 64 MiB from 7 bytes: more than LZ4 can expand to.
		{"lz4 block claims 64 MiB", craftSegment(CodecLZ4, MaxBlockLen, []byte{0x10, 0, 0, 0, 0, 0, 0}), "lz4 block of 7 bytes cannot decode to 67108864 bytes"},
		{"400k headers in one record", craftSegment(CodecZstd, uint32(len(headerBomb(400_000))), enc.EncodeAll(headerBomb(400_000), nil)), "record 0: bad header count"},
	}
}

// TestHostileSegmentsBoundedMemory reads crafted segments through every
// entry point and requires a corruption error and a few MiB of allocation,
// whatever the lengths inside claim.
func TestHostileSegmentsBoundedMemory(t *testing.T) {
	const bound = 8 << 20
	for _, c := range allCodecs { // set up every decoder outside the measurements
		s := writeSegment(t, c, 0, 0, testRecords(false), 0)
		ScanSegment(bytes.NewReader(s.data), s.size)
	}
	// The bomb was 256 MiB in 53 KB; 64 MiB is as telling and
	// quicker to make under -race.
	for _, tt := range hostileSegments(t, 64<<20) {
		t.Run(tt.name, func(t *testing.T) {
			r, size := bytes.NewReader(tt.data), int64(len(tt.data))
			var err error
			n := fuzzcheck.Bounded(t, "ScanSegment", bound, func() { _, err = ScanSegment(r, size) })
			t.Logf("ScanSegment allocated %s: %v", fuzzcheck.MiB(n), err)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ScanSegment: %v, want ErrCorrupt saying %q", err, tt.want)
			}
			n = fuzzcheck.Bounded(t, "OpenSegmentReader and Records", bound, func() {
				var sr *SegmentReader
				if sr, err = OpenSegmentReader(r, size); err == nil {
					err = sr.Records(0, func(*Record) error { return nil })
				}
			})
			t.Logf("OpenSegmentReader and Records allocated %s: %v", fuzzcheck.MiB(n), err)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("OpenSegmentReader/Records: %v, want ErrCorrupt saying %q", err, tt.want)
			}
		})
	}
	t.Run("footer claims 4 GiB", func(t *testing.T) {
		var tail [trailerLen]byte
		binary.BigEndian.PutUint32(tail[:], 1<<32-1)
		copy(tail[8:], segEndMagic)
		r := &sparseReader{size: 8 << 30, tail: tail[:]}
		var err error
		n := fuzzcheck.Bounded(t, "OpenSegmentReader", bound, func() { _, err = OpenSegmentReader(r, r.size) })
		t.Logf("OpenSegmentReader allocated %s: %v", fuzzcheck.MiB(n), err)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "footer length 4294967295") {
			t.Errorf("OpenSegmentReader: %v, want ErrCorrupt naming the footer length", err)
		}
	})
}
