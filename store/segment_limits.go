package store

import (
	"fmt"
	"math"
)

// Limits of the segment format. The writer never produces more; a reader
// rejects more with ErrCorrupt before it allocates anything sized by the
// number it read. docs/storage-format.md §4.7 explains each one.
const (
	// MaxBlockLen is the largest raw (uncompressed) block payload, and so the
	// largest record the writer accepts once encoded (key, value, headers
	// and a few bytes of framing). It is 64 times the default block size,
	// above the message size limits of Kafka services we know of (20 MB),
	// and it bounds what reading one block needs: at most MaxBlockLen bytes
	// stored and MaxBlockLen bytes decoded.
	MaxBlockLen = 64 << 20
	// MaxRecordHeaders is the most headers one record may have. A header
	// takes 2 bytes stored but a Header value in memory; the limit bounds
	// that expansion.
	MaxRecordHeaders = 1 << 16
	// MaxSegmentBlocks is the most blocks one segment may hold (64 GiB of
	// records at the default block size); it bounds the footer to
	// maxFooterLen bytes.
	MaxSegmentBlocks = 1 << 16

	// maxBlockRecords is the most records one block may hold; the writer
	// closes a block when it reaches it. A default-sized block of the
	// smallest records (minRecordLen) stays below it.
	maxBlockRecords = 1 << 18
	// minRecordLen is the smallest encoded record: offset delta, flags,
	// timestamp, leader epoch and header count of one byte each.
	minRecordLen = 5
	// footerFixedLen is the footer body without its block table.
	footerFixedLen = 2 + 4 + 10*8 + 4
	// maxFooterLen is the largest footer body.
	maxFooterLen = footerFixedLen + MaxSegmentBlocks*blockInfoLen
	// maxLineOverhead and maxLineExpansion bound a JSON line (§6): at most
	// maxLineOverhead bytes per record plus maxLineExpansion per encoded
	// byte (a header of 3 bytes can render as 52). FuzzDecodeBlock checks
	// the bound holds for every record.
	maxLineOverhead  = 256
	maxLineExpansion = 32
)

// checkBlock checks the fields of a block header (or footer entry) against
// the format's limits and against each other, before anything is read or
// allocated for the block.
func checkBlock(b *BlockInfo) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: block at byte %d: %s", ErrCorrupt, b.Pos, fmt.Sprintf(format, args...))
	}
	switch {
	case int(b.Codec) >= len(codecNames):
		return bad("unknown codec %d", b.Codec)
	case b.RawLen > MaxBlockLen:
		return bad("raw length %d is above the limit of %d bytes", b.RawLen, MaxBlockLen)
	case b.StoredLen > b.RawLen:
		return bad("stored length %d is above its raw length %d", b.StoredLen, b.RawLen)
	case b.Codec == CodecNone && b.StoredLen != b.RawLen:
		return bad("uncompressed, but stored length %d differs from raw length %d", b.StoredLen, b.RawLen)
	case b.Count == 0:
		return bad("holds no records")
	case b.Count > maxBlockRecords || b.Count > b.RawLen/minRecordLen:
		return bad("%d records cannot fit in %d bytes (limit %d records)", b.Count, b.RawLen, maxBlockRecords)
	case b.LastOffset < b.FirstOffset || uint64(b.LastOffset-b.FirstOffset) < uint64(b.Count-1):
		return bad("%d records cannot have offsets %d to %d", b.Count, b.FirstOffset, b.LastOffset)
	case b.MaxTimestamp < b.MinTimestamp:
		return bad("timestamps from %d to %d", b.MinTimestamp, b.MaxTimestamp)
	}
	return nil
}

// maxDecodedBytes is the most DecodedBytes a block of rawLen bytes and
// count records can have.
func maxDecodedBytes(rawLen, count uint32) int64 {
	return maxLineExpansion*int64(rawLen) + maxLineOverhead*int64(count)
}

// checkFooter checks a parsed footer: every block within the limits, the
// blocks back to back from the file header to end (where the footer
// starts) in offset order, and the segment's totals equal to the blocks'.
// lay says how long the file header and a block's framing are.
func checkFooter(si *SegmentInfo, end int64, lay segLayout) error {
	pos := lay.header
	var records, decoded int64
	minTS, maxTS := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range si.Blocks {
		b := &si.Blocks[i]
		if b.Pos != pos {
			return fmt.Errorf("%w: footer places block %d at byte %d, the previous block ends at %d", ErrCorrupt, i, b.Pos, pos)
		}
		if err := checkBlock(b); err != nil {
			return err
		}
		if b.DecodedBytes < int64(b.Count) || b.DecodedBytes > maxDecodedBytes(b.RawLen, b.Count) {
			return fmt.Errorf("%w: footer says block %d decodes to %d bytes, impossible for %d records in %d bytes", ErrCorrupt, i, b.DecodedBytes, b.Count, b.RawLen)
		}
		if i > 0 && b.FirstOffset <= si.Blocks[i-1].LastOffset {
			return fmt.Errorf("%w: footer block %d starts at offset %d, not after block %d", ErrCorrupt, i, b.FirstOffset, i-1)
		}
		pos += lay.block + int64(b.StoredLen)
		if pos > end {
			return fmt.Errorf("%w: footer places block %d past the footer", ErrCorrupt, i)
		}
		records += int64(b.Count)
		decoded += b.DecodedBytes
		minTS, maxTS = min(minTS, b.MinTimestamp), max(maxTS, b.MaxTimestamp)
	}
	if pos != end {
		return fmt.Errorf("%w: %d bytes between the last block and the footer", ErrCorrupt, end-pos)
	}
	if records != si.Records || decoded != si.DecodedBytes {
		return fmt.Errorf("%w: footer totals (%d records, %d decoded bytes) differ from its blocks' (%d, %d)", ErrCorrupt, si.Records, si.DecodedBytes, records, decoded)
	}
	if si.NextOffset < si.StartOffset {
		return fmt.Errorf("%w: footer next offset %d is before its start offset %d", ErrCorrupt, si.NextOffset, si.StartOffset)
	}
	if len(si.Blocks) == 0 {
		return nil
	}
	first, last := &si.Blocks[0], &si.Blocks[len(si.Blocks)-1]
	switch {
	case si.FirstOffset != first.FirstOffset || si.LastOffset != last.LastOffset:
		return fmt.Errorf("%w: footer offsets %d-%d differ from its blocks' %d-%d", ErrCorrupt, si.FirstOffset, si.LastOffset, first.FirstOffset, last.LastOffset)
	case si.StartOffset > si.FirstOffset || si.NextOffset <= si.LastOffset:
		return fmt.Errorf("%w: footer fetch range %d-%d does not hold offsets %d-%d", ErrCorrupt, si.StartOffset, si.NextOffset, si.FirstOffset, si.LastOffset)
	case minTS != si.MinTimestamp || maxTS != si.MaxTimestamp ||
		si.FirstTimestamp < minTS || si.FirstTimestamp > maxTS || si.LastTimestamp < minTS || si.LastTimestamp > maxTS:
		return fmt.Errorf("%w: footer timestamps differ from its blocks' (%d to %d)", ErrCorrupt, minTS, maxTS)
	}
	return nil
}
