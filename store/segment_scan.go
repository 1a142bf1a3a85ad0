package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// SegmentScan is what reading a whole segment object found: the object's
// size and CRC-32C as read (whole, even when it is damaged), its intact
// blocks, and its footer when the whole object is sound.
type SegmentScan struct {
	Size int64
	CRC  uint32
	// Blocks are the blocks that are intact, in order, with their decoded
	// sizes.
	Blocks []BlockInfo
	// Info is the footer; nil unless the object is sound.
	Info *SegmentInfo
}

// Checksum returns the CRC in the index's notation ("crc32c:" and 8 hex
// digits).
func (sc *SegmentScan) Checksum() string { return fmt.Sprintf("crc32c:%08x", sc.CRC) }

// Entry returns the index entry of a sound scan of segment id.
func (sc *SegmentScan) Entry(id string) SegmentEntry {
	return EntryFromInfo(id, sc.Info, sc.Size, sc.CRC)
}

// CheckSegment reads segment id of loc once, from start to end, as verify,
// index rebuild and start-up recovery need: it checks every checksum and
// every block's records without trusting the footer, then the footer
// against the blocks. Memory stays within one block and the footer whatever
// the object holds. size is the object's size from a listing or the index
// (-1 asks the storage). A damaged object yields the scan so far and an
// error wrapping ErrCorrupt; a missing one an error wrapping ErrNotFound.
func (s *Store) CheckSegment(ctx context.Context, loc Loc, id string, size int64) (*SegmentScan, error) {
	key := loc.segmentKey(id)
	r, err := s.b.NewReader(ctx, key, nil)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("segment %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	if size < 0 {
		size = r.Size()
	}
	sc, err := scanSegment(r, size, s.segKeys(id))
	switch {
	case err == nil:
		return sc, nil
	case errors.Is(err, ErrCorrupt):
		return sc, fmt.Errorf("segment %s: %w", key, err)
	case isNotFound(err):
		return sc, fmt.Errorf("segment %s: %w", key, ErrNotFound)
	}
	return sc, fmt.Errorf("read %s: %w", key, err)
}

// ScanSegment walks a segment's blocks from the start without trusting its
// footer, checking every checksum, as verify and index rebuild need. It
// returns the blocks that are intact, in order, and the first problem found
// (nil if the whole object, footer included, is sound).
func ScanSegment(r io.ReaderAt, size int64) ([]BlockInfo, error) {
	sc, err := scanSegment(io.NewSectionReader(r, 0, size), size, nil)
	if sc == nil {
		return nil, err
	}
	return sc.Blocks, err
}

// scanSegment reads the segment of size bytes from r in one pass, to its
// end even when it finds damage, so that the scan's size and CRC are the
// object's. keys is set for an encrypted backup, nil for a plain one.
func scanSegment(r io.Reader, size int64, keys segKeys) (_ *SegmentScan, err error) {
	h := crc32.New(castagnoli)
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(io.TeeReader(cr, h), 64<<10)
	sc := &SegmentScan{}
	defer func() {
		if _, derr := io.Copy(io.Discard, br); derr != nil && err == nil {
			err = fmt.Errorf("read segment: %w", derr)
		}
		sc.Size, sc.CRC = cr.n, h.Sum32()
	}()
	corrupt := func(format string, args ...any) (*SegmentScan, error) {
		return sc, fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	read := func(p []byte, what string, pos int64) error {
		if _, err := io.ReadFull(br, p); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: %s at byte %d runs past the end (truncated)", ErrCorrupt, what, pos)
			}
			return fmt.Errorf("read %s at byte %d: %w", what, pos, err)
		}
		return nil
	}
	if size < fileHeaderLen+trailerLen {
		return corrupt("segment of %d bytes is too short", size)
	}
	var hdr [fileHeaderLen]byte
	if err := read(hdr[:], "segment header", 0); err != nil {
		return sc, err
	}
	if string(hdr[:8]) != segMagic {
		return corrupt("not a kbackup segment")
	}
	switch {
	case keys != nil && hdr[8] != sealedVersion:
		return sc, errPlainSegment()
	case keys == nil && hdr[8] == sealedVersion:
		return sc, errSealedSegment()
	case keys != nil:
		if size < sealedHeaderLen+frameHeadLen+sealedTrailerLen {
			return corrupt("encrypted segment of %d bytes is too short", size)
		}
		full := make([]byte, sealedHeaderLen)
		copy(full, hdr[:])
		if err := read(full[fileHeaderLen:], "segment header", fileHeaderLen); err != nil {
			return sc, err
		}
		return scanSealed(sc, read, size, full, keys)
	}
	pos := int64(fileHeaderLen)
	var stored, raw []byte
	for pos+blockHeaderLen <= size {
		magic, err := br.Peek(len(blockMagic))
		if err != nil || string(magic) != blockMagic {
			break // the footer (or garbage) begins
		}
		var bh [blockHeaderLen]byte
		if err := read(bh[:], "block header", pos); err != nil {
			return sc, err
		}
		b, err := parseBlockHeader(bh[:], pos)
		if err == nil {
			err = checkBlock(&b)
		}
		if err != nil {
			return sc, err
		}
		if len(sc.Blocks) == MaxSegmentBlocks {
			return corrupt("more than %d blocks", MaxSegmentBlocks)
		}
		if pos+blockHeaderLen+int64(b.StoredLen) > size {
			return corrupt("block at byte %d runs past the end (truncated)", pos)
		}
		stored = grow(stored, int(b.StoredLen))
		if err := read(stored, "block", pos); err != nil {
			return sc, err
		}
		payload, err := openPayload(&b, stored, raw)
		if err != nil {
			return sc, err
		}
		if b.Codec != CodecNone {
			raw = payload
		}
		if err := decodeBlock(payload, &b, func(rec *Record) error {
			b.DecodedBytes += JSONLineLen(rec)
			return nil
		}); err != nil {
			return sc, err
		}
		sc.Blocks = append(sc.Blocks, b)
		pos += blockHeaderLen + int64(b.StoredLen)
	}
	rest := size - pos
	if rest < trailerLen || rest > maxFooterLen+trailerLen {
		return corrupt("%d bytes follow the last intact block at byte %d: not a footer", rest, pos)
	}
	tail := make([]byte, rest)
	if err := read(tail, "footer", pos); err != nil {
		return sc, err
	}
	if n, err := br.Read(make([]byte, 1)); n > 0 || err != io.EOF {
		if err != nil && err != io.EOF {
			return sc, fmt.Errorf("read past the footer: %w", err)
		}
		return corrupt("the object holds more than the %d bytes expected", size)
	}
	n, crc, err := parseTrailer(tail[rest-trailerLen:])
	if err != nil {
		return sc, err
	}
	if int64(n) != rest-trailerLen {
		return corrupt("footer of %d bytes, %d bytes between the last block and the trailer", n, rest-trailerLen)
	}
	info, err := parseFooter(tail[:n], crc)
	if err != nil {
		return sc, err
	}
	if err := checkFooter(info, pos, plainLayout); err != nil {
		return sc, err
	}
	if len(info.Blocks) != len(sc.Blocks) {
		return corrupt("footer lists %d blocks, object holds %d", len(info.Blocks), len(sc.Blocks))
	}
	for i := range sc.Blocks {
		if sc.Blocks[i] != info.Blocks[i] {
			return corrupt("footer entry for block %d disagrees with the block", i)
		}
	}
	sc.Info = info
	return sc, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// grow returns b resized to n bytes, reusing its array when it can.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// openPayload checks the stored payload of block b against its CRC and
// returns it decompressed, into buf when it is large enough. An
// uncompressed payload is returned as is.
func openPayload(b *BlockInfo, payload, buf []byte) ([]byte, error) {
	if crc32c(payload) != b.CRC {
		return nil, fmt.Errorf("%w: block at byte %d (offsets %d-%d) fails its CRC-32C", ErrCorrupt, b.Pos, b.FirstOffset, b.LastOffset)
	}
	if b.Codec == CodecNone {
		return payload, nil // checkBlock saw StoredLen = RawLen; a copy would double the memory
	}
	return decompress(b.Codec, buf, payload, int(b.RawLen))
}
