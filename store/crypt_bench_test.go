package store

import (
	"bytes"
	"testing"

	"github.com/kbackup/kbackup/integration/benchtab"
	"github.com/kbackup/kbackup/store/crypt"
)

// BenchmarkSegmentEncryption measures writing and then reading back every
// record of zstd segments (2,000 JSON records of about 500 bytes, default
// block size, 24 times), plain and encrypted; the two alternate (benchtab)
// so that both see the same machine load. The figure is encrypted
// throughput over plain, whose goal is issue 15's 0.85.
func BenchmarkSegmentEncryption(b *testing.B) {
	recs, payload := benchRecords()
	const repeat = 24
	k := crypt.NewKeyring()
	roundTrip := func(enc bool) error {
		var seg bytes.Buffer
		var sw *SegmentWriter
		var keys segKeys
		if enc {
			salt := crypt.NewSalt()
			s, err := k.Segment("01JBENCH", salt)
			if err != nil {
				return err
			}
			sw = newSegmentWriter(&seg, 0, CodecZstd, 0, 0, s, salt)
			keys = func(salt []byte) (*crypt.Segment, error) { return k.Segment("01JBENCH", salt) }
		} else {
			sw = NewSegmentWriter(&seg, 0, CodecZstd, 0, 0)
		}
		for i := range recs {
			if err := sw.Append(&recs[i]); err != nil {
				return err
			}
		}
		if _, _, _, err := sw.Close(); err != nil {
			return err
		}
		sr, err := openSegmentReader(bytes.NewReader(seg.Bytes()), int64(seg.Len()), keys)
		if err != nil {
			return err
		}
		return sr.Records(0, func(*Record) error { return nil })
	}
	contender := func(name string, enc bool) benchtab.Contender {
		return benchtab.Contender{
			Name:     name,
			Settings: "zstd, default block size, write then read, in memory",
			Run: func(m *benchtab.Measure) error {
				return m.MBps("MB/s", repeat*payload, func() error {
					for range repeat {
						if err := roundTrip(enc); err != nil {
							return err
						}
					}
					return nil
				})
			},
		}
	}
	plain := contender("segment write+read plain", false)
	enc := contender("segment write+read encrypted", true)
	res := benchtab.Run(b, benchtab.Options{}, enc, plain)
	plainSide := res.Side(plain.Name, "MB/s")
	res.Figure(benchtab.Figure{ID: "segment-encrypted-vs-plain", Name: "segment write+read, AES-256-GCM encrypted vs plain (zstd)", Unit: "MB/s",
		Kbackup: res.Side(enc.Name, "MB/s"), Peer: &plainSide, Goal: benchtab.AtLeast(0.85, "issue 15"),
		Note: "keys, values and headers of 2,000 JSON records, in-process; the peer is kbackup itself without encryption"})
}
