package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// BenchmarkOpenSegmentMemory reports the live heap each open segment
// holds, with every partition's segment open and 128 KiB of incompressible
// records appended to each: streamed (no spool: the open block buffers
// grow with the partitions) and spooled under a 16 MiB budget (the total
// stays near the budget, so the cost per partition falls as partitions
// are added). File storage: no upload buffer is involved.
func BenchmarkOpenSegmentMemory(b *testing.B) {
	const perPartition, recordLen, budget = 128 << 10, 1 << 10, 16 << 20
	for _, spooled := range []bool{false, true} {
		for _, parts := range []int{100, 1000} {
			b.Run(fmt.Sprintf("spooled=%v/partitions=%d", spooled, parts), func(b *testing.B) {
				ctx := context.Background()
				st, err := Open(ctx, b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				l, err := st.AcquireLease(ctx, "bench", "bench", time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Release(ctx)
				val := make([]byte, recordLen)
				rng := rand.New(rand.NewPCG(1, 2))
				for i := range val {
					val[i] = byte(rng.Uint32())
				}
				var perPart float64
				for range b.N {
					var sp *Spool
					if spooled {
						if sp, err = NewSpool(SpoolOptions{Dir: b.TempDir(), Memory: budget}); err != nil {
							b.Fatal(err)
						}
					}
					before := liveHeap()
					ups := make([]*SegmentUpload, parts)
					for p := range ups {
						if ups[p], err = st.CreateSegment(ctx, l, Loc{Topic: "bench", Version: 1}, SegmentOptions{Partition: int32(p), Codec: CodecZstd, Spool: sp}); err != nil {
							b.Fatal(err)
						}
					}
					for off := range int64(perPartition / recordLen) {
						for _, up := range ups {
							if err := up.Append(&Record{Offset: off, Value: val}); err != nil {
								b.Fatal(err)
							}
						}
					}
					perPart = float64(liveHeap()-before) / float64(parts)
					for _, up := range ups {
						up.Abort()
					}
				}
				b.ReportMetric(perPart, "heap-B/partition")
				b.ReportMetric(perPart*float64(parts)/(1<<20), "heap-MiB")
			})
		}
	}
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
