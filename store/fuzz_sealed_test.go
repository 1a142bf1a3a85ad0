package store

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/kbackup/kbackup/store/crypt"
	"github.com/kbackup/kbackup/store/storetest/fuzzcheck"
)

// fuzzSegID is the segment ID the sealed fuzz inputs are keyed for.
const fuzzSegID = "01JFUZZ0000000000000000000"

// fuzzKeyring is a fixed keyring, so that seeds stay valid between runs.
func fuzzKeyring(t testing.TB) *Store {
	t.Helper()
	s := &Store{}
	var err error
	s.keys, err = crypt.KeyringFromBytes(make([]byte, crypt.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeSealed encodes rs as an encrypted segment of fuzzSegID.
func writeSealed(t testing.TB, s *Store, c Codec, blockSize int, rs []Record) []byte {
	t.Helper()
	salt := make([]byte, crypt.SaltLen)
	enc, err := s.keys.Segment(fuzzSegID, salt)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sw := newSegmentWriter(&buf, 3, c, 0, blockSize, enc, salt)
	for i := range rs {
		if err := sw.Append(&rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sealPlain turns the bytes of a plain segment into an encrypted one of
// fuzzSegID, frame by frame, whatever they hold, so that the fuzzer's
// mutations reach the decoders behind authentication.
func sealPlain(s *Store, d []byte) []byte {
	salt := make([]byte, crypt.SaltLen)
	enc, _ := s.keys.Segment(fuzzSegID, salt)
	be := binary.BigEndian
	out := sealedHeader(salt)
	pos, i := fileHeaderLen, 0
	for pos+blockHeaderLen <= len(d) && string(d[pos:pos+4]) == blockMagic {
		end := pos + blockHeaderLen + int(be.Uint32(d[pos+8:]))
		if end > len(d) || end < pos {
			break
		}
		at := int64(len(out))
		out = append(out, crypt.KindBlock)
		out = be.AppendUint32(out, uint32(end-pos+crypt.Overhead))
		out = enc.Seal(out, crypt.KindBlock, uint32(i), at, d[pos:end])
		pos, i = end, i+1
	}
	body := d[min(pos, len(d)):]
	if len(body) >= trailerLen && string(body[len(body)-8:]) == segEndMagic {
		body = body[:len(body)-trailerLen]
	}
	at := int64(len(out))
	out = append(out, crypt.KindFooter)
	out = be.AppendUint32(out, uint32(len(body)+crypt.Overhead))
	out = enc.Seal(out, crypt.KindFooter, 0, at, body)
	sealed := out[at+frameHeadLen:]
	crc := crc32c(sealed)
	out = append(out, salt...)
	out = be.AppendUint32(out, uint32(len(sealed)))
	out = be.AppendUint32(out, crc)
	return append(out, sealedEndMagic...)
}

// FuzzSealedSegment reads arbitrary bytes as an encrypted segment, as
// they are and sealed frame by frame from a plain segment's bytes: no
// panic, errors wrapping ErrCorrupt, allocation within the bound of plain
// segments, and the scan and the footer agreeing when both succeed.
func FuzzSealedSegment(f *testing.F) {
	s := fuzzKeyring(f)
	rs := testRecords(false)[:12]
	for _, c := range allCodecs {
		seg := writeSealed(f, s, c, 64, rs)
		f.Add(seg, false)
		f.Add(seg[:len(seg)/2], false)
		f.Add(writeSegment(f, c, 64, 0, rs, 0).data, true)
	}
	f.Add(writeSealed(f, s, CodecNone, 0, nil), false)
	f.Add([]byte{}, true)
	zstdCoders()
	f.Fuzz(func(t *testing.T, data []byte, reseal bool) {
		bound := fuzzcheck.Base + 4*uint64(len(data)) + 2*64<<10
		if reseal {
			bound = readBound(data) + 4*uint64(len(data))
			data = sealPlain(s, withChecksums(data))
		}
		size := int64(len(data))
		var sc *SegmentScan
		var scanErr, openErr, recErr error
		var sr *SegmentReader
		fuzzcheck.Bounded(t, "reading the sealed segment", bound, func() {
			sc, scanErr = scanSegment(bytes.NewReader(data), size, s.segKeys(fuzzSegID))
			sr, openErr = openSegmentReader(bytes.NewReader(data), size, s.segKeys(fuzzSegID))
			if openErr == nil {
				recErr = sr.Records(0, func(*Record) error { return nil })
			}
		})
		for _, err := range []error{scanErr, openErr, recErr} {
			if err != nil && !readError(err) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrFormat", err)
			}
		}
		if scanErr == nil && openErr == nil {
			if len(sc.Blocks) != len(sr.Info.Blocks) {
				t.Fatalf("scan found %d blocks, footer lists %d", len(sc.Blocks), len(sr.Info.Blocks))
			}
			if recErr != nil {
				t.Fatalf("sound segment, records fail: %v", recErr)
			}
		}
		if scanErr == nil && sc.Size != size {
			t.Fatalf("scan read %d of %d bytes", sc.Size, size)
		}
	})
}
