package store

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/integration/benchtab"
)

// benchRecords returns 2000 JSON-like records of about 500 bytes and their
// payload size.
func benchRecords() ([]Record, int64) {
	words := strings.Fields("order payment customer shipped pending refund invoice warehouse item quantity price total discount tax region")
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]Record, 2000)
	var payload int64
	for i := range recs {
		var v strings.Builder
		fmt.Fprintf(&v, `{"id":%d,"words":"`, i)
		for v.Len() < 480 {
			v.WriteString(words[rng.IntN(len(words))])
			v.WriteByte(' ')
		}
		v.WriteString(`"}`)
		recs[i] = Record{Offset: int64(i), Timestamp: time.UnixMilli(1700000000000 + int64(i)), Key: []byte(fmt.Sprint("key-", i)), Value: []byte(v.String()),
			Headers: []Header{{Key: "source", Value: []byte("bench")}}}
		payload += int64(len(recs[i].Key) + len(recs[i].Value) + 6 + 5)
	}
	return recs, payload
}

// BenchmarkSegmentReader measures reading, checking and decoding every
// record of a segment, what restore and the mount pay per byte, for each
// codec; the block buffer is reused as the mount reuses it.
func BenchmarkSegmentReader(b *testing.B) {
	recs, payload := benchRecords()
	for _, c := range []Codec{CodecNone, CodecZstd, CodecLZ4, CodecSnappy, CodecGzip} {
		b.Run(c.String(), func(b *testing.B) {
			var seg bytes.Buffer
			sw := NewSegmentWriter(&seg, 0, c, 0, 64<<10)
			for i := range recs {
				if err := sw.Append(&recs[i]); err != nil {
					b.Fatal(err)
				}
			}
			if _, _, _, err := sw.Close(); err != nil {
				b.Fatal(err)
			}
			r := bytes.NewReader(seg.Bytes())
			b.SetBytes(payload)
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				sr, err := OpenSegmentReader(r, int64(seg.Len()))
				if err != nil {
					b.Fatal(err)
				}
				for i, bi := range sr.Info.Blocks {
					if buf, err = sr.ReadBlock(i, buf[:0]); err != nil {
						b.Fatal(err)
					}
					if err := DecodeBlock(buf, bi.FirstOffset, func(*Record) error { return nil }); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkSegmentWriter measures encoding and compressing records into a
// segment, the backup's CPU cost per byte, for each codec. The codecs warm
// up once and alternate (benchtab); each run encodes the same 2,000 records
// of about 500 bytes 48 times. There is no peer: the figures are reported
// to show where the backup's time goes.
func BenchmarkSegmentWriter(b *testing.B) {
	recs, payload := benchRecords()
	const repeat = 48
	var cs []benchtab.Contender
	codecs := []Codec{CodecNone, CodecZstd, CodecLZ4}
	for _, c := range codecs {
		cs = append(cs, benchtab.Contender{
			Name:     "SegmentWriter " + c.String(),
			Settings: "default block size, to io.Discard",
			Run: func(m *benchtab.Measure) error {
				return m.MBps("MB/s", repeat*payload, func() error {
					for range repeat {
						sw := NewSegmentWriter(io.Discard, 0, c, 0, 0)
						for j := range recs {
							if err := sw.Append(&recs[j]); err != nil {
								return err
							}
						}
						if _, _, _, err := sw.Close(); err != nil {
							return err
						}
					}
					return nil
				})
			},
		})
	}
	res := benchtab.Run(b, benchtab.Options{}, cs...)
	for i, c := range codecs {
		res.Figure(benchtab.Figure{ID: "encode-" + c.String(), Name: "segment encoding, " + c.String(), Unit: "MB/s",
			Kbackup: res.Side(cs[i].Name, "MB/s"), Note: "keys, values and headers of 2,000 JSON records, in-process"})
	}
}
