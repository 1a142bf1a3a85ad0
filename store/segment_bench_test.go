package store

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// BenchmarkSegmentWriter measures encoding and compressing records into a
// segment, the backup's CPU cost per byte, for each codec.
func BenchmarkSegmentWriter(b *testing.B) {
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
		recs[i] = Record{Timestamp: time.UnixMilli(1700000000000 + int64(i)), Key: []byte(fmt.Sprint("key-", i)), Value: []byte(v.String()),
			Headers: []Header{{Key: "source", Value: []byte("bench")}}}
		payload += int64(len(recs[i].Key) + len(recs[i].Value) + 6 + 5)
	}
	for _, c := range []Codec{CodecNone, CodecZstd, CodecLZ4} {
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(payload)
			for i := 0; i < b.N; i++ {
				sw := NewSegmentWriter(io.Discard, 0, c, 0, 0)
				for j := range recs {
					recs[j].Offset = int64(j)
					if err := sw.Append(&recs[j]); err != nil {
						b.Fatal(err)
					}
				}
				if _, _, _, err := sw.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
