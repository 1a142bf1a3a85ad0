package store

import (
	"fmt"
	"runtime/metrics"
	"testing"
)

// heapAllocated returns the bytes allocated on the heap, by every
// goroutine, while fn ran. It reads the runtime's cumulative allocation
// counter, which small allocations reach in per-P batches, so it is exact
// to within a few hundred KiB: good enough to tell a bounded reader from
// one that sized a buffer by a number it read.
func heapAllocated(fn func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	fn()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

// checkAllocBound fails t if fn allocates more than bound bytes, and
// returns what it allocated.
func checkAllocBound(t testing.TB, what string, bound uint64, fn func()) uint64 {
	t.Helper()
	n := heapAllocated(fn)
	if n > bound {
		t.Errorf("%s allocated %s, bound %s", what, mib(n), mib(bound))
	}
	return n
}

// mib formats n bytes in MiB.
func mib(n uint64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
