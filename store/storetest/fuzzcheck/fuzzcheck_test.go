package fuzzcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sink keeps allocations from being optimised away.
var sink []byte

func TestHeapAllocated(t *testing.T) {
	n := HeapAllocated(func() { sink = make([]byte, 32<<20) })
	if n < 32<<20 || n > 33<<20 {
		t.Errorf("a 32 MiB allocation measured as %s", MiB(n))
	}
	if n := HeapAllocated(func() {}); n > 1<<20 {
		t.Errorf("nothing measured as %s", MiB(n))
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed []string
}

func (r *recorder) Errorf(format string, args ...any) { r.failed = append(r.failed, format) }
func (r *recorder) Helper()                           {}

func TestBounded(t *testing.T) {
	r := &recorder{TB: t}
	Bounded(r, "big", 1<<20, func() { sink = make([]byte, 4<<20) })
	if len(r.failed) != 1 {
		t.Errorf("4 MiB against a 1 MiB bound: %d failures, want 1", len(r.failed))
	}
	r.failed = nil
	Bounded(r, "small", 8<<20, func() { sink = make([]byte, 4<<20) })
	if len(r.failed) != 0 {
		t.Errorf("4 MiB against an 8 MiB bound failed")
	}
}

func TestCorpusFile(t *testing.T) {
	got := string(CorpusFile([]byte("a\x00\""), byte(2), uint32(7), int64(-1), true, "s"))
	want := "go test fuzz v1\n[]byte(\"a\\x00\\\"\")\nbyte('\\x02')\nuint32(7)\nint64(-1)\nbool(true)\nstring(\"s\")\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSeeds(t *testing.T) {
	t.Chdir(t.TempDir())
	seeds := map[string][]byte{"one": CorpusFile([]byte("x"))}
	r := &recorder{TB: t}
	Seeds(r, "FuzzX", seeds, false)
	if len(r.failed) != 1 || !strings.Contains(r.failed[0], "missing") {
		t.Fatalf("missing seed: %v", r.failed)
	}
	Seeds(t, "FuzzX", seeds, true)
	if _, err := os.Stat(filepath.Join("testdata", "fuzz", "FuzzX", "one")); err != nil {
		t.Fatal(err)
	}
	r.failed = nil
	Seeds(r, "FuzzX", seeds, false)
	if len(r.failed) != 0 {
		t.Errorf("committed seed reported: %v", r.failed)
	}
}
