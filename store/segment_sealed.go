package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/kbackup/kbackup/store/crypt"
)

// Encrypted ("sealed") segment layout, version 2 (docs/storage-format.md
// §10.2). Every block and the footer are frames sealed with AES-256-GCM
// under the segment's key (crypt.Segment); the plain bytes of a block frame
// are exactly a plain segment's block header and stored payload, and those
// of the footer frame exactly a plain footer body.
//
//	file header   "KBKSEG01" | version u8 = 2 | reserved [7]u8 = 0 | salt [32]u8
//	block frame*  'B' | sealedLen u32 | AES-GCM(block header | payload)
//	footer frame  'F' | sealedLen u32 | AES-GCM(footer body)
//	trailer       salt [32]u8 | sealedLen u32 | CRC-32C(sealed footer) u32 | "KBKEND02"
const (
	sealedVersion    = 2
	sealedEndMagic   = "KBKEND02"
	sealedHeaderLen  = 16 + crypt.SaltLen
	frameHeadLen     = 1 + 4
	sealedTrailerLen = crypt.SaltLen + 16
	// sealedBlockOverhead is what a sealed block takes beyond its stored
	// payload.
	sealedBlockOverhead = frameHeadLen + blockHeaderLen + crypt.Overhead
	// maxSealedFooterLen bounds the sealed footer.
	maxSealedFooterLen = maxFooterLen + crypt.Overhead
)

// segLayout says how long a segment's file header and a block's framing
// (beyond its stored payload) are.
type segLayout struct{ header, block int64 }

var (
	plainLayout  = segLayout{fileHeaderLen, blockHeaderLen}
	sealedLayout = segLayout{sealedHeaderLen, sealedBlockOverhead}
)

// segKeys returns the sealer of a segment from the salt stored in it; nil
// means the segment must be plain.
type segKeys func(salt []byte) (*crypt.Segment, error)

// sealedHeader returns the file header of a sealed segment.
func sealedHeader(salt []byte) []byte {
	h := make([]byte, sealedHeaderLen)
	copy(h, segMagic)
	h[8] = sealedVersion
	copy(h[16:], salt)
	return h
}

// writeSealedBlock writes block hdr|payload as frame index of the segment.
func (sw *SegmentWriter) writeSealedBlock(index int, hdr, payload []byte) {
	n := blockHeaderLen + len(payload)
	f := grow(sw.frame, frameHeadLen+n+crypt.Overhead)
	copy(f[frameHeadLen:], hdr)
	copy(f[frameHeadLen+blockHeaderLen:], payload)
	plain := f[frameHeadLen : frameHeadLen+n]
	sealed := sw.enc.Seal(plain[:0], crypt.KindBlock, uint32(index), sw.written, plain)
	f[0] = crypt.KindBlock
	binary.BigEndian.PutUint32(f[1:], uint32(len(sealed)))
	sw.frame = f
	sw.write(f[:frameHeadLen+len(sealed)])
}

// writeSealedFooter writes the footer frame and the trailer.
func (sw *SegmentWriter) writeSealedFooter() {
	body := appendFooterBody(nil, &sw.info)
	f := make([]byte, frameHeadLen, frameHeadLen+len(body)+crypt.Overhead+sealedTrailerLen)
	f = sw.enc.Seal(f, crypt.KindFooter, 0, sw.written, body)
	sealed := f[frameHeadLen:]
	f[0] = crypt.KindFooter
	binary.BigEndian.PutUint32(f[1:], uint32(len(sealed)))
	crc := crc32c(sealed)
	f = append(f, sw.salt...)
	f = binary.BigEndian.AppendUint32(f, uint32(len(sealed)))
	f = binary.BigEndian.AppendUint32(f, crc)
	sw.write(append(f, sealedEndMagic...))
}

// errPlainSegment and errSealedSegment say that a segment is not what its
// backup is: one backup is all encrypted or all plain.
func errPlainSegment() error {
	return fmt.Errorf("%w: plain segment in an encrypted backup", ErrCorrupt)
}

func errSealedSegment() error {
	return fmt.Errorf("%w: encrypted segment, but the storage was opened without an encryption key: pass --encryption-key (or set KBACKUP_ENCRYPTION_KEY)", ErrEncrypted)
}

// openSealedFooter reads the trailer and the footer frame of the sealed
// segment r of size bytes (two reads), opens and checks the footer.
func openSealedFooter(r io.ReaderAt, size int64, keys segKeys) (*SegmentInfo, *crypt.Segment, error) {
	if size < sealedHeaderLen+frameHeadLen+sealedTrailerLen {
		return nil, nil, fmt.Errorf("%w: encrypted segment of %d bytes is too short", ErrCorrupt, size)
	}
	var tr [sealedTrailerLen]byte
	if _, err := r.ReadAt(tr[:], size-sealedTrailerLen); err != nil {
		return nil, nil, fmt.Errorf("read segment trailer: %w", err)
	}
	if string(tr[sealedTrailerLen-8:]) != sealedEndMagic {
		if string(tr[sealedTrailerLen-8:]) == segEndMagic {
			return nil, nil, errPlainSegment()
		}
		return nil, nil, fmt.Errorf("%w: segment has no footer (truncated?)", ErrCorrupt)
	}
	salt := tr[:crypt.SaltLen]
	n := binary.BigEndian.Uint32(tr[crypt.SaltLen:])
	crc := binary.BigEndian.Uint32(tr[crypt.SaltLen+4:])
	if n < footerFixedLen+crypt.Overhead || n > maxSealedFooterLen {
		return nil, nil, fmt.Errorf("%w: segment footer length %d is outside %d to %d bytes", ErrCorrupt, n, footerFixedLen+crypt.Overhead, maxSealedFooterLen)
	}
	fpos := size - sealedTrailerLen - frameHeadLen - int64(n)
	if fpos < sealedHeaderLen {
		return nil, nil, fmt.Errorf("%w: segment footer length %d exceeds object", ErrCorrupt, n)
	}
	frame := make([]byte, frameHeadLen+int(n))
	if _, err := r.ReadAt(frame, fpos); err != nil {
		return nil, nil, fmt.Errorf("read segment footer: %w", err)
	}
	enc, err := keys(salt)
	if err != nil {
		return nil, nil, err
	}
	info, err := openFooterFrame(enc, frame, fpos, crc)
	if err != nil {
		return nil, nil, err
	}
	return info, enc, nil
}

// openFooterFrame opens and checks the footer frame read at fpos, whose
// sealed bytes have CRC-32C crc.
func openFooterFrame(enc *crypt.Segment, frame []byte, fpos int64, crc uint32) (*SegmentInfo, error) {
	sealed := frame[frameHeadLen:]
	if frame[0] != crypt.KindFooter || binary.BigEndian.Uint32(frame[1:]) != uint32(len(sealed)) {
		return nil, fmt.Errorf("%w: no footer frame at byte %d", ErrCorrupt, fpos)
	}
	if crc32c(sealed) != crc {
		return nil, fmt.Errorf("%w: segment footer checksum mismatch", ErrCorrupt)
	}
	body, err := enc.Open(sealed[:0], crypt.KindFooter, 0, fpos, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: segment footer at byte %d fails authentication (damaged, moved or another key)", ErrCorrupt, fpos)
	}
	info, err := parseFooterBody(body)
	if err != nil {
		return nil, err
	}
	if err := checkFooter(info, fpos, sealedLayout); err != nil {
		return nil, err
	}
	return info, nil
}

// openBlockFrame checks that frame, read at b.Pos, is block index of the
// segment and returns its plain block header and stored payload, opened in
// place.
func openBlockFrame(enc *crypt.Segment, frame []byte, index int, pos int64) ([]byte, error) {
	if len(frame) < frameHeadLen+blockHeaderLen+crypt.Overhead || frame[0] != crypt.KindBlock ||
		binary.BigEndian.Uint32(frame[1:]) != uint32(len(frame)-frameHeadLen) {
		return nil, fmt.Errorf("%w: no block frame at byte %d", ErrCorrupt, pos)
	}
	sealed := frame[frameHeadLen:]
	plain, err := enc.Open(sealed[:0], crypt.KindBlock, uint32(index), pos, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: block %d at byte %d fails authentication (damaged, swapped, moved or another key)", ErrCorrupt, index, pos)
	}
	return plain, nil
}

// readSealedBlock reads block index, described by b (from the checked
// footer), of a sealed segment and returns its payload decompressed.
func readSealedBlock(r io.ReaderAt, enc *crypt.Segment, index int, b BlockInfo, buf []byte) ([]byte, error) {
	frame := make([]byte, sealedBlockOverhead+int(b.StoredLen))
	if _, err := r.ReadAt(frame, b.Pos); err != nil {
		return nil, fmt.Errorf("read block at byte %d: %w", b.Pos, err)
	}
	plain, err := openBlockFrame(enc, frame, index, b.Pos)
	if err != nil {
		return nil, err
	}
	hb, err := parseBlockHeader(plain, b.Pos)
	if err != nil {
		return nil, err
	}
	hb.DecodedBytes = b.DecodedBytes
	if hb != b {
		return nil, fmt.Errorf("%w: block at byte %d disagrees with the footer", ErrCorrupt, b.Pos)
	}
	return openPayload(&b, plain[blockHeaderLen:], buf)
}

// scanSealed continues scanSegment on a sealed segment after its file
// header hdr: every frame is read, opened and checked in order, then the
// footer against the blocks.
func scanSealed(sc *SegmentScan, read func([]byte, string, int64) error, size int64, hdr []byte, keys segKeys) (*SegmentScan, error) {
	corrupt := func(format string, args ...any) (*SegmentScan, error) {
		return sc, fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	salt := bytes.Clone(hdr[16:sealedHeaderLen])
	enc, err := keys(salt)
	if err != nil {
		return sc, err
	}
	pos := int64(sealedHeaderLen)
	var frame, raw []byte
	var fh [frameHeadLen]byte
	for {
		if pos+frameHeadLen > size {
			return corrupt("segment ends at byte %d without a footer (truncated)", pos)
		}
		if err := read(fh[:], "frame header", pos); err != nil {
			return sc, err
		}
		n := int64(binary.BigEndian.Uint32(fh[1:]))
		if fh[0] == crypt.KindFooter {
			if n < footerFixedLen+crypt.Overhead || n > maxSealedFooterLen || pos+frameHeadLen+n+sealedTrailerLen != size {
				return corrupt("footer frame of %d bytes at byte %d does not end the object of %d bytes", n, pos, size)
			}
			rest := make([]byte, n+sealedTrailerLen)
			if err := read(rest, "footer", pos); err != nil {
				return sc, err
			}
			tr := rest[n:]
			if string(tr[sealedTrailerLen-8:]) != sealedEndMagic || binary.BigEndian.Uint32(tr[crypt.SaltLen:]) != uint32(n) {
				return corrupt("segment trailer does not match its footer")
			}
			if !bytes.Equal(tr[:crypt.SaltLen], salt) {
				return corrupt("segment trailer and header hold different salts")
			}
			full := append(fh[:], rest[:n]...)
			info, err := openFooterFrame(enc, full, pos, binary.BigEndian.Uint32(tr[crypt.SaltLen+4:]))
			if err != nil {
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
		if fh[0] != crypt.KindBlock {
			return corrupt("no frame at byte %d", pos)
		}
		if n < blockHeaderLen+crypt.Overhead || n > blockHeaderLen+MaxBlockLen+crypt.Overhead {
			return corrupt("block frame of %d bytes at byte %d", n, pos)
		}
		if pos+frameHeadLen+n > size {
			return corrupt("block at byte %d runs past the end (truncated)", pos)
		}
		if len(sc.Blocks) == MaxSegmentBlocks {
			return corrupt("more than %d blocks", MaxSegmentBlocks)
		}
		frame = grow(frame, frameHeadLen+int(n))
		copy(frame, fh[:])
		if err := read(frame[frameHeadLen:], "block", pos); err != nil {
			return sc, err
		}
		plain, err := openBlockFrame(enc, frame, len(sc.Blocks), pos)
		if err != nil {
			return sc, err
		}
		b, err := parseBlockHeader(plain, pos)
		if err == nil {
			err = checkBlock(&b)
		}
		if err != nil {
			return sc, err
		}
		if int(b.StoredLen) != len(plain)-blockHeaderLen {
			return corrupt("block at byte %d says %d bytes, its frame holds %d", pos, b.StoredLen, len(plain)-blockHeaderLen)
		}
		payload, err := openPayload(&b, plain[blockHeaderLen:], raw)
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
		pos += frameHeadLen + n
	}
}
