package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"

	"github.com/kbackup/kbackup/store/crypt"
)

// DefaultBlockSize is the uncompressed size at which a block is closed.
const DefaultBlockSize = 1 << 20

// SegmentWriter encodes the records of one partition into the segment format.
// It is not safe for concurrent use. Close writes the footer; it does not
// close the underlying writer.
type SegmentWriter struct {
	w         io.Writer
	crc       hash.Hash32
	codec     Codec
	blockSize int
	info      SegmentInfo
	written   int64
	raw       []byte // current block payload
	cur       BlockInfo
	scratch   []byte
	err       error

	// enc seals the segment (version 2) when set; salt is its salt and
	// frame the buffer sealed blocks are built in.
	enc   *crypt.Segment
	salt  []byte
	frame []byte
}

// NewSegmentWriter starts a segment for partition on w. startOffset is the
// fetch position the segment begins at (the previous segment's NextOffset, or
// the partition's start). blockSize <= 0 selects DefaultBlockSize; a block
// size above MaxBlockLen makes every Append fail.
func NewSegmentWriter(w io.Writer, partition int32, codec Codec, startOffset int64, blockSize int) *SegmentWriter {
	return newSegmentWriter(w, partition, codec, startOffset, blockSize, nil, nil)
}

// newSegmentWriter is NewSegmentWriter, writing an encrypted segment when
// enc is set (salt is the salt enc was derived with).
func newSegmentWriter(w io.Writer, partition int32, codec Codec, startOffset int64, blockSize int, enc *crypt.Segment, salt []byte) *SegmentWriter {
	if blockSize <= 0 {
		blockSize = DefaultBlockSize
	}
	var err error
	if blockSize > MaxBlockLen {
		err = fmt.Errorf("segment block size %d is above the limit of %d bytes", blockSize, MaxBlockLen)
	}
	sw := &SegmentWriter{
		w: w, crc: crc32.New(castagnoli), codec: codec, blockSize: blockSize,
		info: SegmentInfo{
			Partition: partition, Codec: codec,
			StartOffset: startOffset, NextOffset: startOffset,
			FirstOffset: -1, LastOffset: -1,
		},
		err: err, enc: enc, salt: salt,
	}
	if enc != nil {
		sw.write(sealedHeader(salt))
		return sw
	}
	var hdr [fileHeaderLen]byte
	copy(hdr[:], segMagic)
	hdr[8] = segVersion
	hdr[9] = byte(codec)
	binary.BigEndian.PutUint32(hdr[12:], uint32(partition))
	sw.write(hdr[:])
	return sw
}

func (sw *SegmentWriter) write(b []byte) {
	if sw.err != nil {
		return
	}
	n, err := sw.w.Write(b)
	sw.crc.Write(b[:n])
	sw.written += int64(n)
	if err != nil {
		sw.err = fmt.Errorf("write segment: %w", err)
	}
}

// Append adds r, whose offset must be at least NextOffset. A record the
// format cannot hold (more than MaxRecordHeaders headers, or more than
// MaxBlockLen bytes encoded) and a segment already holding MaxSegmentBlocks
// full blocks are refused with an error, and the segment stays as it was.
func (sw *SegmentWriter) Append(r *Record) error {
	if sw.err != nil {
		return sw.err
	}
	if err := sw.check(r); err != nil {
		return err
	}
	if sw.cur.Count > 0 && len(sw.raw)+encodedLen(r, sw.cur.FirstOffset) > MaxBlockLen {
		sw.flushBlock() // r does not fit: it starts the next block
		if sw.err != nil {
			return sw.err
		}
	}
	if sw.cur.Count == 0 && len(sw.info.Blocks) == MaxSegmentBlocks {
		return fmt.Errorf("append offset %d to partition %d: segment holds %d blocks, the limit; roll it first: %w", r.Offset, sw.info.Partition, MaxSegmentBlocks, ErrRecordRefused)
	}
	ts := r.Timestamp.UnixMilli()
	if sw.cur.Count == 0 {
		sw.cur = BlockInfo{FirstOffset: r.Offset, MinTimestamp: math.MaxInt64, MaxTimestamp: math.MinInt64}
	}
	sw.raw = appendRecord(sw.raw, r, sw.cur.FirstOffset)
	sw.cur.Count++
	sw.cur.LastOffset = r.Offset
	sw.cur.MinTimestamp = min(sw.cur.MinTimestamp, ts)
	sw.cur.MaxTimestamp = max(sw.cur.MaxTimestamp, ts)
	// Only milliseconds are stored: size the line a reader will decode.
	stored := *r
	stored.Timestamp = msTime(ts)
	sw.cur.DecodedBytes += JSONLineLen(&stored)

	si := &sw.info
	if si.Records == 0 {
		si.FirstOffset, si.FirstTimestamp = r.Offset, ts
		si.MinTimestamp, si.MaxTimestamp = ts, ts
	}
	si.Records++
	si.LastOffset, si.LastTimestamp = r.Offset, ts
	si.MinTimestamp = min(si.MinTimestamp, ts)
	si.MaxTimestamp = max(si.MaxTimestamp, ts)
	si.NextOffset = r.Offset + 1
	if len(sw.raw) >= sw.blockSize || sw.cur.Count == maxBlockRecords {
		sw.flushBlock()
	}
	return sw.err
}

// check refuses a record the segment format cannot hold.
func (sw *SegmentWriter) check(r *Record) error {
	switch {
	case r.Offset < sw.info.NextOffset:
		return fmt.Errorf("append offset %d to partition %d: below next offset %d: %w", r.Offset, sw.info.Partition, sw.info.NextOffset, ErrRecordRefused)
	case len(r.Headers) > MaxRecordHeaders:
		return fmt.Errorf("append offset %d to partition %d: %d headers, above the limit of %d: %w", r.Offset, sw.info.Partition, len(r.Headers), MaxRecordHeaders, ErrRecordRefused)
	}
	if n := encodedLen(r, r.Offset); n > MaxBlockLen {
		return fmt.Errorf("append offset %d to partition %d: record is %d bytes encoded, above the limit of %d: %w", r.Offset, sw.info.Partition, n, MaxBlockLen, ErrRecordRefused)
	}
	return nil
}

// Skip records that offsets below next were consumed without a record to
// store (transaction markers, aborted data): the next segment starts there.
func (sw *SegmentWriter) Skip(next int64) {
	if next > sw.info.NextOffset {
		sw.info.NextOffset = next
	}
}

func (sw *SegmentWriter) flushBlock() {
	if sw.cur.Count == 0 || sw.err != nil {
		return
	}
	b := sw.cur
	b.Pos = sw.written
	b.RawLen = uint32(len(sw.raw))
	b.Codec = sw.codec
	out, err := compress(sw.codec, sw.scratch[:0], sw.raw)
	if err != nil && !errors.Is(err, errIncompressible) {
		sw.err = fmt.Errorf("compress block: %w", err)
		return
	}
	if err != nil || len(out) >= len(sw.raw) {
		b.Codec, out = CodecNone, sw.raw
	} else {
		sw.scratch = out
	}
	b.StoredLen = uint32(len(out))
	b.CRC = crc32c(out)
	var hdr [blockHeaderLen]byte
	putBlockHeader(hdr[:], &b)
	if sw.enc != nil {
		sw.writeSealedBlock(len(sw.info.Blocks), hdr[:], out)
	} else {
		sw.write(hdr[:])
		sw.write(out)
	}
	sw.info.Blocks = append(sw.info.Blocks, b)
	sw.info.DecodedBytes += b.DecodedBytes
	sw.raw = sw.raw[:0]
	sw.cur = BlockInfo{}
}

// Records returns how many records were appended.
func (sw *SegmentWriter) Records() int64 { return sw.info.Records }

// Size returns the bytes written so far plus the open block's raw size.
func (sw *SegmentWriter) Size() int64 { return sw.written + int64(len(sw.raw)) }

// NextOffset returns the fetch position after everything appended or skipped.
func (sw *SegmentWriter) NextOffset() int64 { return sw.info.NextOffset }

// Close flushes the open block and writes the footer. It returns the
// segment's description, its total size and its CRC-32C.
func (sw *SegmentWriter) Close() (SegmentInfo, int64, uint32, error) {
	sw.flushBlock()
	if sw.enc != nil {
		sw.writeSealedFooter()
	} else {
		sw.write(appendFooter(nil, &sw.info))
	}
	return sw.info, sw.written, sw.crc.Sum32(), sw.err
}
