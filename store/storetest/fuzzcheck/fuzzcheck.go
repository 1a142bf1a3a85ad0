// Package fuzzcheck is what the fuzz tests of kbackup's decoders share: an
// assertion that decoding an input allocated no more than a bound, and the
// committed seed corpus of crafted inputs. It imports nothing of kbackup,
// so any package's tests, store's own included, can use it.
//
// # Bounded allocation
//
// A decoder of stored or user-given bytes must never size an allocation by
// a number it read without checking it against a documented limit first.
// Each fuzz target wraps the decoding of one input in Bounded with a bound
// computed from the input (Base plus a multiple of its length, plus what a
// valid header in it may claim within the limits) and fails when the
// decoder allocated more, whether or not it returned an error:
//
//	fuzzcheck.Bounded(t, "parse manifest", fuzzcheck.Base+8*uint64(len(data)), func() {
//		m, err = parseManifest(data)
//	})
//
// # Seeds
//
// Crafted inputs (the reproductions of bugs, bombs, lengths near the
// limits) are committed under testdata/fuzz/<FuzzName>/ in the `go test fuzz
// v1` format, where `go test` runs them as seeds of the target. Generate
// them in a test with Seeds so that `go test -run X -update` rewrites them.
//
// # Running
//
// Add the target to the Makefile's FUZZ list (one line); `make test` fuzzes
// it for a few seconds, `make fuzz` for FUZZTIME.
package fuzzcheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"testing"
)

// Base is the allocation any input may cause whatever its size: decoder
// state allocated on first use (zstd block decoders, a gzip reader), the
// runtime's batching of small allocations and other goroutines.
const Base = 8 << 20

// HeapAllocated returns the bytes allocated on the heap, by every
// goroutine, while fn ran. It reads the runtime's cumulative allocation
// counter, which small allocations reach in per-P batches, so it is exact
// to within a few hundred KiB: good enough to tell a bounded decoder from
// one that sized a buffer by a number it read.
func HeapAllocated(fn func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	fn()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

// Bounded runs fn and fails t (without stopping it) if fn allocated more
// than bound bytes. It returns what fn allocated. Call it from a test that
// does not run in parallel with others, or allow for their allocations.
func Bounded(t testing.TB, what string, bound uint64, fn func()) uint64 {
	t.Helper()
	n := HeapAllocated(fn)
	if n > bound {
		t.Errorf("%s allocated %s, bound %s", what, MiB(n), MiB(bound))
	}
	return n
}

// MiB formats n bytes in MiB.
func MiB(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// CorpusFile encodes the arguments of one fuzz input as a `go test fuzz v1`
// file. It supports []byte, string, bool, byte and the other integer types.
func CorpusFile(vals ...any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		case bool, int, int8, int16, int32, int64, uint, uint16, uint32, uint64:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		default:
			panic(fmt.Sprintf("fuzzcheck: cannot encode %T in a corpus file", v))
		}
	}
	return b.Bytes()
}

// Seeds checks that every file of seeds (file name → CorpusFile content)
// is committed under testdata/fuzz/<target>/, or, if update is set, writes
// them there. Other files in the directory (inputs the fuzzer found) are
// left alone. Content is not compared, so a change of encoder output does
// not fail the check: the seeds stay valid inputs either way.
func Seeds(t testing.TB, target string, seeds map[string][]byte, update bool) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	for name, content := range seeds {
		path := filepath.Join(dir, name)
		if update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("seed %s of %s is missing (run the test with -update): %v", name, target, err)
			continue
		}
		if !bytes.HasPrefix(got, []byte("go test fuzz v1\n")) {
			t.Errorf("%s is not a go test fuzz v1 file", path)
		}
	}
}
