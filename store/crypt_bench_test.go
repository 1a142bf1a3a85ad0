package store

import (
	"bytes"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store/crypt"
)

// BenchmarkSegmentEncryption measures writing and then reading every record
// of a zstd segment (2,000 records of about 500 bytes, default block
// size), plain and encrypted, alternating in each iteration so that both
// see the same machine load. It reports each side's MB/s and the ratio
// encrypted/plain (issue 15 aims at ≥ 0.85).
func BenchmarkSegmentEncryption(b *testing.B) {
	recs, payload := benchRecords()
	k := crypt.NewKeyring()
	run := func(enc bool) time.Duration {
		start := time.Now()
		var seg bytes.Buffer
		var sw *SegmentWriter
		var keys segKeys
		if enc {
			salt := crypt.NewSalt()
			s, _ := k.Segment("01JBENCH", salt)
			sw = newSegmentWriter(&seg, 0, CodecZstd, 0, 0, s, salt)
			keys = func(salt []byte) (*crypt.Segment, error) { return k.Segment("01JBENCH", salt) }
		} else {
			sw = NewSegmentWriter(&seg, 0, CodecZstd, 0, 0)
		}
		for i := range recs {
			if err := sw.Append(&recs[i]); err != nil {
				b.Fatal(err)
			}
		}
		if _, _, _, err := sw.Close(); err != nil {
			b.Fatal(err)
		}
		sr, err := openSegmentReader(bytes.NewReader(seg.Bytes()), int64(seg.Len()), keys)
		if err != nil {
			b.Fatal(err)
		}
		if err := sr.Records(0, func(*Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var plain, enc time.Duration
	n := 0
	for b.Loop() {
		plain += run(false)
		enc += run(true)
		n++
	}
	mb := float64(payload) * float64(n) / 1e6
	b.ReportMetric(mb/plain.Seconds(), "plain-MB/s")
	b.ReportMetric(mb/enc.Seconds(), "encrypted-MB/s")
	b.ReportMetric(plain.Seconds()/enc.Seconds(), "encrypted/plain")
}
