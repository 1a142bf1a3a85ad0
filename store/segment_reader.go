package store

import (
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/kbackup/kbackup/store/crypt"
)

// SegmentReader reads a segment through an io.ReaderAt: the footer once,
// then single blocks on demand. It is safe for concurrent use if r is.
type SegmentReader struct {
	r    io.ReaderAt
	size int64
	enc  *crypt.Segment // set for an encrypted segment
	Info *SegmentInfo
}

// OpenSegmentReader reads the footer of the plain segment r of size bytes.
func OpenSegmentReader(r io.ReaderAt, size int64) (*SegmentReader, error) {
	return openSegmentReader(r, size, nil)
}

// openSegmentReader reads the footer of segment r of size bytes: an
// encrypted one when keys is set, a plain one otherwise. Either way it
// takes two reads.
func openSegmentReader(r io.ReaderAt, size int64, keys segKeys) (*SegmentReader, error) {
	if keys != nil {
		info, enc, err := openSealedFooter(r, size, keys)
		if err != nil {
			return nil, err
		}
		return &SegmentReader{r: r, size: size, enc: enc, Info: info}, nil
	}
	if size < fileHeaderLen+trailerLen {
		return nil, fmt.Errorf("%w: segment of %d bytes is too short", ErrCorrupt, size)
	}
	var tr [trailerLen]byte
	if _, err := r.ReadAt(tr[:], size-trailerLen); err != nil {
		return nil, fmt.Errorf("read segment trailer: %w", err)
	}
	n, crc, err := parseTrailer(tr[:])
	if err != nil {
		if string(tr[8:]) == sealedEndMagic {
			return nil, errSealedSegment()
		}
		return nil, err
	}
	if n < footerFixedLen || n > maxFooterLen {
		return nil, fmt.Errorf("%w: segment footer length %d is outside %d to %d bytes", ErrCorrupt, n, footerFixedLen, maxFooterLen)
	}
	if int64(n) > size-trailerLen-fileHeaderLen {
		return nil, fmt.Errorf("%w: segment footer length %d exceeds object", ErrCorrupt, n)
	}
	body := make([]byte, n)
	if _, err := r.ReadAt(body, size-trailerLen-int64(n)); err != nil {
		return nil, fmt.Errorf("read segment footer: %w", err)
	}
	info, err := parseFooter(body, crc)
	if err != nil {
		return nil, err
	}
	if err := checkFooter(info, size-trailerLen-int64(n), plainLayout); err != nil {
		return nil, err
	}
	return &SegmentReader{r: r, size: size, Info: info}, nil
}

// Size returns the segment's stored size.
func (s *SegmentReader) Size() int64 { return s.size }

// ReadBlock reads, checks and decompresses block i; buf may be reused (the
// result need not be in it). It allocates the block's stored bytes and, for
// a compressed block unless buf is large enough, its raw bytes: each at
// most MaxBlockLen.
func (s *SegmentReader) ReadBlock(i int, buf []byte) ([]byte, error) {
	if s.enc != nil {
		return readSealedBlock(s.r, s.enc, i, s.Info.Blocks[i], buf)
	}
	return readBlock(s.r, s.Info.Blocks[i], buf)
}

// readBlock reads block b, whose fields checkBlock accepted.
func readBlock(r io.ReaderAt, b BlockInfo, buf []byte) ([]byte, error) {
	stored := make([]byte, blockHeaderLen+int(b.StoredLen))
	if _, err := r.ReadAt(stored, b.Pos); err != nil {
		return nil, fmt.Errorf("read block at byte %d: %w", b.Pos, err)
	}
	hb, err := parseBlockHeader(stored, b.Pos)
	if err != nil {
		return nil, err
	}
	hb.DecodedBytes = b.DecodedBytes // not in the block header
	if hb != b {
		return nil, fmt.Errorf("%w: block at byte %d disagrees with the footer", ErrCorrupt, b.Pos)
	}
	return openPayload(&b, stored[blockHeaderLen:], buf)
}

// DecodeBlock calls fn for each record of a decompressed block payload whose
// first offset is first. The record and its slices are reused between calls.
// Errors in the payload wrap ErrCorrupt; errors from fn are returned as is.
func DecodeBlock(payload []byte, first int64, fn func(*Record) error) error {
	d := payloadDecoder{b: payload, base: first, size: len(payload)}
	var r Record
	for d.next(&r) {
		if err := fn(&r); err != nil {
			return err
		}
	}
	if d.err != nil {
		return fmt.Errorf("%w: block payload: %v", ErrCorrupt, d.err)
	}
	return nil
}

// decodeBlock is DecodeBlock for the payload of block b, checking that its
// records are what b says: Count records, offsets rising from FirstOffset
// to LastOffset, timestamps from MinTimestamp to MaxTimestamp.
func decodeBlock(payload []byte, b *BlockInfo, fn func(*Record) error) error {
	var n uint32
	last := b.FirstOffset - 1
	minTS, maxTS := int64(math.MaxInt64), int64(math.MinInt64)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: block at byte %d (offsets %d-%d): %s", ErrCorrupt, b.Pos, b.FirstOffset, b.LastOffset, fmt.Sprintf(format, args...))
	}
	d := payloadDecoder{b: payload, base: b.FirstOffset, size: len(payload)}
	var r Record
	for d.next(&r) {
		if n == b.Count {
			return bad("holds more than %d records", b.Count)
		}
		if r.Offset <= last || (n == 0 && r.Offset != b.FirstOffset) || r.Offset > b.LastOffset {
			return bad("record %d has offset %d", n, r.Offset)
		}
		n++
		last = r.Offset
		ts := r.Timestamp.UnixMilli()
		minTS, maxTS = min(minTS, ts), max(maxTS, ts)
		if err := fn(&r); err != nil {
			return err
		}
	}
	switch {
	case d.err != nil:
		return bad("%v", d.err)
	case n != b.Count:
		return bad("holds %d records, its header says %d", n, b.Count)
	case last != b.LastOffset:
		return bad("last record has offset %d", last)
	case minTS != b.MinTimestamp || maxTS != b.MaxTimestamp:
		return bad("record timestamps %d-%d, its header says %d-%d", minTS, maxTS, b.MinTimestamp, b.MaxTimestamp)
	}
	return nil
}

// BlockForOffset returns the index of the first block whose last offset is
// at least off (len(Blocks) if none).
func (s *SegmentReader) BlockForOffset(off int64) int {
	bs := s.Info.Blocks
	return sort.Search(len(bs), func(i int) bool { return bs[i].LastOffset >= off })
}

// BlockForTimestamp returns the index of the first block holding a record
// with a timestamp at or after ts (milliseconds), len(Blocks) if none.
// Kafka timestamps need not grow with offsets, so later blocks may still
// hold earlier records: a time filter skips blocks by their range
// (BlockInfo.MinTimestamp, MaxTimestamp) rather than stopping.
func (s *SegmentReader) BlockForTimestamp(ts int64) int {
	for i, b := range s.Info.Blocks {
		if b.MaxTimestamp >= ts {
			return i
		}
	}
	return len(s.Info.Blocks)
}

// BlockForDecodedPos returns the block holding decoded byte pos and the
// decoded position at which that block starts.
func (s *SegmentReader) BlockForDecodedPos(pos int64) (int, int64) {
	var at int64
	for i, b := range s.Info.Blocks {
		if pos < at+b.DecodedBytes {
			return i, at
		}
		at += b.DecodedBytes
	}
	return len(s.Info.Blocks), at
}

// Records calls fn for every record at or after offset from, in order.
func (s *SegmentReader) Records(from int64, fn func(*Record) error) error {
	var buf []byte
	for i := s.BlockForOffset(from); i < len(s.Info.Blocks); i++ {
		p, err := s.ReadBlock(i, buf)
		if err != nil {
			return err
		}
		buf = p
		err = decodeBlock(p, &s.Info.Blocks[i], func(r *Record) error {
			if r.Offset < from {
				return nil
			}
			return fn(r)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
