package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// Segment byte layout (all integers big-endian); docs/storage-format.md is
// the normative description.
//
//	file header   "KBKSEG01" | version u8 | codec u8 | reserved u16 | partition i32
//	block*        block header (blockHeaderLen bytes) | payload
//	footer        footer body | footerLen u32 | footerCRC u32 | "KBKEND01"
const (
	segMagic       = "KBKSEG01"
	segEndMagic    = "KBKEND01"
	blockMagic     = "KBLK"
	segVersion     = 1
	fileHeaderLen  = 16
	blockHeaderLen = 4 + 1 + 3 + 4*4 + 8*4 + 4 // magic codec pad lens/crc/count offsets/ts hdrcrc
	trailerLen     = 16
	blockInfoLen   = 8 + 1 + 4*4 + 8*5
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c returns the CRC-32C (Castagnoli) of b.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// BlockInfo describes one block of a segment.
type BlockInfo struct {
	Pos          int64 // byte position of the block header in the object
	Codec        Codec
	StoredLen    uint32 // payload length as stored
	RawLen       uint32 // payload length once decompressed
	CRC          uint32 // CRC-32C of the stored payload
	Count        uint32
	FirstOffset  int64
	LastOffset   int64
	MinTimestamp int64 // milliseconds
	MaxTimestamp int64
	DecodedBytes int64 // size of the block's records as JSON lines
}

// SegmentInfo is what a segment's footer records about the whole segment.
type SegmentInfo struct {
	Partition      int32
	Codec          Codec
	StartOffset    int64 // fetch position the segment starts at
	NextOffset     int64 // fetch position after the segment (after control records too)
	FirstOffset    int64
	LastOffset     int64
	FirstTimestamp int64 // milliseconds, of the first record
	LastTimestamp  int64 // milliseconds, of the last record
	MinTimestamp   int64
	MaxTimestamp   int64
	Records        int64
	DecodedBytes   int64 // size of the records as JSON lines
	Blocks         []BlockInfo
}

func putBlockHeader(b []byte, bi *BlockInfo) {
	copy(b, blockMagic)
	b[4] = byte(bi.Codec)
	b[5], b[6], b[7] = 0, 0, 0
	be := binary.BigEndian
	be.PutUint32(b[8:], bi.StoredLen)
	be.PutUint32(b[12:], bi.RawLen)
	be.PutUint32(b[16:], bi.CRC)
	be.PutUint32(b[20:], bi.Count)
	be.PutUint64(b[24:], uint64(bi.FirstOffset))
	be.PutUint64(b[32:], uint64(bi.LastOffset))
	be.PutUint64(b[40:], uint64(bi.MinTimestamp))
	be.PutUint64(b[48:], uint64(bi.MaxTimestamp))
	be.PutUint32(b[56:], crc32c(b[:56]))
}

// parseBlockHeader decodes a block header; pos is where it was read.
func parseBlockHeader(b []byte, pos int64) (BlockInfo, error) {
	if len(b) < blockHeaderLen || string(b[:4]) != blockMagic {
		return BlockInfo{}, fmt.Errorf("%w: no block header at byte %d", ErrCorrupt, pos)
	}
	be := binary.BigEndian
	if be.Uint32(b[56:]) != crc32c(b[:56]) {
		return BlockInfo{}, fmt.Errorf("%w: block header checksum mismatch at byte %d", ErrCorrupt, pos)
	}
	return BlockInfo{
		Pos:          pos,
		Codec:        Codec(b[4]),
		StoredLen:    be.Uint32(b[8:]),
		RawLen:       be.Uint32(b[12:]),
		CRC:          be.Uint32(b[16:]),
		Count:        be.Uint32(b[20:]),
		FirstOffset:  int64(be.Uint64(b[24:])),
		LastOffset:   int64(be.Uint64(b[32:])),
		MinTimestamp: int64(be.Uint64(b[40:])),
		MaxTimestamp: int64(be.Uint64(b[48:])),
	}, nil
}

// appendFooter appends the footer body of si and the plain trailer.
func appendFooter(dst []byte, si *SegmentInfo) []byte {
	start := len(dst)
	dst = appendFooterBody(dst, si)
	body := dst[start:]
	be := binary.BigEndian
	dst = be.AppendUint32(dst, uint32(len(body)))
	dst = be.AppendUint32(dst, crc32c(body))
	return append(dst, segEndMagic...)
}

// appendFooterBody appends the footer body of si: the same bytes in a
// plain and (sealed) in an encrypted segment.
func appendFooterBody(dst []byte, si *SegmentInfo) []byte {
	be := binary.BigEndian
	dst = append(dst, segVersion, byte(si.Codec))
	dst = be.AppendUint32(dst, uint32(si.Partition))
	for _, v := range []int64{si.StartOffset, si.NextOffset, si.FirstOffset, si.LastOffset,
		si.FirstTimestamp, si.LastTimestamp, si.MinTimestamp, si.MaxTimestamp,
		si.Records, si.DecodedBytes} {
		dst = be.AppendUint64(dst, uint64(v))
	}
	dst = be.AppendUint32(dst, uint32(len(si.Blocks)))
	for i := range si.Blocks {
		b := &si.Blocks[i]
		dst = be.AppendUint64(dst, uint64(b.Pos))
		dst = append(dst, byte(b.Codec))
		dst = be.AppendUint32(dst, b.StoredLen)
		dst = be.AppendUint32(dst, b.RawLen)
		dst = be.AppendUint32(dst, b.CRC)
		dst = be.AppendUint32(dst, b.Count)
		for _, v := range []int64{b.FirstOffset, b.LastOffset, b.MinTimestamp, b.MaxTimestamp, b.DecodedBytes} {
			dst = be.AppendUint64(dst, uint64(v))
		}
	}
	return dst
}

// parseTrailer returns the footer body length from the last trailerLen bytes.
func parseTrailer(b []byte) (length, crc uint32, err error) {
	if len(b) != trailerLen || string(b[8:]) != segEndMagic {
		return 0, 0, fmt.Errorf("%w: segment has no footer (truncated?)", ErrCorrupt)
	}
	return binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:]), nil
}

func parseFooter(body []byte, crc uint32) (*SegmentInfo, error) {
	if crc32c(body) != crc {
		return nil, fmt.Errorf("%w: segment footer checksum mismatch", ErrCorrupt)
	}
	return parseFooterBody(body)
}

// parseFooterBody decodes a footer body whose integrity was checked.
func parseFooterBody(body []byte) (*SegmentInfo, error) {
	if len(body) < footerFixedLen {
		return nil, fmt.Errorf("%w: segment footer too short", ErrCorrupt)
	}
	if body[0] != segVersion {
		return nil, fmt.Errorf("%w: segment footer version %d", ErrFormat, body[0])
	}
	be := binary.BigEndian
	si := &SegmentInfo{Codec: Codec(body[1]), Partition: int32(be.Uint32(body[2:]))}
	p := 6
	for _, v := range []*int64{&si.StartOffset, &si.NextOffset, &si.FirstOffset, &si.LastOffset,
		&si.FirstTimestamp, &si.LastTimestamp, &si.MinTimestamp, &si.MaxTimestamp,
		&si.Records, &si.DecodedBytes} {
		*v = int64(be.Uint64(body[p:]))
		p += 8
	}
	n := be.Uint32(body[p:])
	p += 4
	if n > MaxSegmentBlocks || len(body)-p != int(n)*blockInfoLen {
		return nil, fmt.Errorf("%w: segment footer lists %d blocks in %d bytes (limit %d blocks)", ErrCorrupt, n, len(body)-p, MaxSegmentBlocks)
	}
	si.Blocks = make([]BlockInfo, n)
	for i := range si.Blocks {
		b := &si.Blocks[i]
		b.Pos = int64(be.Uint64(body[p:]))
		b.Codec = Codec(body[p+8])
		b.StoredLen = be.Uint32(body[p+9:])
		b.RawLen = be.Uint32(body[p+13:])
		b.CRC = be.Uint32(body[p+17:])
		b.Count = be.Uint32(body[p+21:])
		p += 25
		for _, v := range []*int64{&b.FirstOffset, &b.LastOffset, &b.MinTimestamp, &b.MaxTimestamp, &b.DecodedBytes} {
			*v = int64(be.Uint64(body[p:]))
			p += 8
		}
	}
	return si, nil
}

// msTime converts Kafka milliseconds to a UTC time.
func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
