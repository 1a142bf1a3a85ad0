package fs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kbackup/kbackup/store"
)

// TestRecordsVersionsDoNotMix attacks the page cache of records.jsonl: the
// content under one offset changes when expired segments leave the index
// (and when it grows), while files opened on the old content stay open.
// Each reader must read exactly the version it opened, and every new open
// the current one, never pages or a size of another version.
func TestRecordsVersionsDoNotMix(t *testing.T) {
	requireFUSE(t)
	st, _ := openStore(t)
	loc := store.Loc{Topic: "shift"}
	recs := genRecords(0, 0, 400)
	var segs []store.SegmentEntry
	for i := 0; i < 4; i++ {
		segs = append(segs, writeSegment(t, st, loc, 0, recs[i*100:(i+1)*100], 2000, store.CodecZstd))
	}
	appendIndex(t, st, loc, segs[:3]...)
	const refresh = 200 * time.Millisecond
	mp := mountStore(t, st, Options{Refresh: refresh})
	rec := filepath.Join(mp, "topics/shift/snapshots/v0/0/records.jsonl")
	v1 := string(jsonLines(recs[:300]))
	v2 := string(jsonLines(recs[100:300])) // the first segment left the index
	v3 := string(jsonLines(recs[100:400])) // then the partition grew

	// a reads a little of v1: the kernel reads ahead and caches v1's pages.
	a := openRead(t, rec, 100, v1)
	if got := run(t, "cat", rec); got != v1 {
		t.Fatalf("cat of v1 read %d bytes, want %d", len(got), len(v1))
	}

	writeIndex(t, st, loc, segs[1:3])
	waitSize(t, rec, len(v2), refresh)
	b := openRead(t, rec, 100, v2)
	if got := run(t, "cat", rec); got != v2 {
		t.Errorf("cat after the head left read %d bytes, want v2's %d", len(got), len(v2))
	}

	appendIndex(t, st, loc, segs[3])
	waitSize(t, rec, len(v3), refresh)
	c := openRead(t, rec, 0, v3)
	if got := run(t, "cat", rec); got != v3 {
		t.Errorf("cat after growth read %d bytes, want v3's %d", len(got), len(v3))
	}

	for _, r := range []struct {
		name string
		f    *os.File
		head int
		want string
	}{{"v1", a, 100, v1}, {"v2", b, 100, v2}, {"v3", c, 0, v3}} {
		fi, err := r.f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != int64(len(r.want)) {
			t.Errorf("fstat of the file opened on %s: size %d, want %d", r.name, fi.Size(), len(r.want))
		}
		rest, err := io.ReadAll(r.f)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.want[:r.head] + string(rest); got != r.want {
			t.Errorf("file opened on %s read %d bytes, want its %d (same bytes: %v)", r.name, len(got), len(r.want), got == r.want)
		}
	}
}

// openRead opens p and reads its first n bytes, which must be want's.
func openRead(t *testing.T, p string, n int, want string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	head := make([]byte, n)
	if _, err := io.ReadFull(f, head); err != nil {
		t.Fatal(err)
	}
	if string(head) != want[:n] {
		t.Fatalf("first %d bytes of %s: %q, want %q", n, p, head, want[:n])
	}
	return f
}

// waitSize waits until stat shows p at size n.
func waitSize(t *testing.T, p string, n int, refresh time.Duration) {
	t.Helper()
	eventually(t, refresh+3*time.Second, fmt.Sprintf("%s has %d bytes", p, n), func() bool {
		fi, err := os.Stat(p)
		return err == nil && fi.Size() == int64(n)
	})
}

// TestMountReadsAhead checks that the mount asks the kernel for the larger
// read-ahead window (readahead.go), which BenchmarkCatRecords measures.
func TestMountReadsAhead(t *testing.T) {
	requireFUSE(t)
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING: only root may set a mount's read-ahead")
	}
	st, _ := openStore(t)
	mp := mountStore(t, st, Options{})
	var sst unix.Stat_t
	if err := unix.Stat(mp, &sst); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(sst.Dev), unix.Minor(sst.Dev)))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(readAheadKiB) {
		t.Errorf("read_ahead_kb of the mount: %s, want %d", got, readAheadKiB)
	}
}
