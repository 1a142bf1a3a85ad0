package fs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

// TestMountIsLazy checks that mounting and listing topics/ read no manifest
// and no index, and that looking into one topic reads that topic's only.
// Writing 2000 topics takes most of a minute on 2 cores; -short writes 200
// topics, which proves the same.
func TestMountIsLazy(t *testing.T) {
	requireFUSE(t)
	st, _ := openStore(t)
	n := 2000
	if testing.Short() {
		n = 200
	}
	writeManyTopics(t, st, n)
	mp := mountStore(t, st, Options{})

	if got := strings.Fields(sh(t, "ls "+mp+"/topics | wc -l"))[0]; got != fmt.Sprint(n) {
		t.Fatalf("ls topics listed %s entries, want %d", got, n)
	}
	c := mountCounters(t, mp)
	if c["manifests_read"] != 0 || c["index_heads_read"] != 0 || c["indexes_read"] != 0 {
		t.Fatalf("mount + ls topics read storage: %v", c)
	}
	one := fmt.Sprintf("%s/topics/t%05d", mp, n/2+34)
	sh(t, "ls -l "+one+"/ "+one+"/latest/")
	c = mountCounters(t, mp)
	// The manifest is read parsed (for the tree) and raw (for the manifest
	// file's size): at most twice, and only this topic's.
	if c["manifests_read"] < 1 || c["manifests_read"] > 2 || c["indexes_read"] != 1 {
		t.Fatalf("looking into one topic: %v, want 1 or 2 manifest reads and 1 index read", c)
	}
}

// TestListingOpensNoSegment lists a partition of many segments whose
// objects do not exist: ls -l and stat work from the index alone.
func TestListingOpensNoSegment(t *testing.T) {
	requireFUSE(t)
	st, _ := openStore(t)
	loc := store.Loc{Topic: "big", Version: 1}
	const n = 3000
	writeBigIndex(t, st, loc, n)
	mp := mountStore(t, st, Options{})
	part := mp + "/topics/big/snapshots/v1/0"

	out := sh(t, "ls -l "+part+"/segments")
	if got := strings.Count(out, ".jsonl\n"); got != n {
		t.Fatalf("ls -l listed %d segments, want %d", got, n)
	}
	if !strings.Contains(out, " 2000 ") {
		t.Fatalf("ls -l shows no decoded size 2000:\n%.300s", out)
	}
	fi, err := os.Stat(part + "/records.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != n*2000 {
		t.Fatalf("records.jsonl size %d, want %d", fi.Size(), n*2000)
	}
	c := mountCounters(t, mp)
	if c["segments_opened"] != 0 || c["indexes_read"] != 1 {
		t.Fatalf("listing: %v, want no segment opened and one index read", c)
	}
}

// writeBigIndex writes a manifest for loc's topic and an index of n fake
// entries of partition 0 (store.WriteIndex: sealed parts and a head).
func writeBigIndex(tb testing.TB, st *store.Store, loc store.Loc, n int) {
	tb.Helper()
	m := &store.Manifest{Topic: loc.Topic, Active: loc.Version, Snapshots: []store.Snapshot{
		{Version: loc.Version, TopicID: "id", Created: baseTime, Partitions: 1},
	}}
	writeManifest(tb, st, m)
	writeIndex(tb, st, loc, fakeEntries(0, n))
}

// TestTailSeeks checks that tail and a read at an offset decode the blocks
// that hold the bytes asked for, not the partition from the start.
func TestTailSeeks(t *testing.T) {
	requireFUSE(t)
	st, _ := openStore(t)
	loc := store.Loc{Topic: "long"}
	const nseg, perSeg = 50, 400
	recs := genRecords(0, 0, nseg*perSeg)
	var es []store.SegmentEntry
	for i := 0; i < len(recs); i += perSeg {
		// 16 KiB blocks: about 5 per segment, each decoding to more than
		// the 8 KiB tail reads at a time.
		es = append(es, writeSegment(t, st, loc, 0, recs[i:i+perSeg], 16<<10, store.CodecZstd))
	}
	appendIndex(t, st, loc, es...)
	want := jsonLines(recs)
	mp := mountStore(t, st, Options{})
	file := filepath.Join(mp, "topics/long/snapshots/v0/0/records.jsonl")

	before := mountCounters(t, mp)
	got := sh(t, "tail -n 10 "+file)
	after := mountCounters(t, mp)
	lines := bytes.SplitAfter(want, []byte("\n"))
	if exp := string(bytes.Join(lines[len(lines)-11:], nil)); got != exp {
		t.Fatalf("tail -n 10:\n%s\nwant:\n%s", got, exp)
	}
	if d := after["blocks_decoded"] - before["blocks_decoded"]; d < 1 || d > 2 {
		t.Errorf("tail -n 10 decoded %d blocks, want 1 or 2", d)
	}
	if d := after["segments_opened"] - before["segments_opened"]; d != 1 {
		t.Errorf("tail -n 10 opened %d segments, want 1", d)
	}

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off := int64(len(want)) * 3 / 7
	buf := make([]byte, 100)
	before = mountCounters(t, mp)
	if _, err := f.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	after = mountCounters(t, mp)
	if !bytes.Equal(buf, want[off:off+100]) {
		t.Fatalf("read at %d: %q, want %q", off, buf, want[off:off+100])
	}
	if d := after["blocks_decoded"] - before["blocks_decoded"]; d < 1 || d > 2 {
		t.Errorf("read of 100 bytes at %d decoded %d blocks, want 1 or 2", off, d)
	}
}

// TestCatBoundedHeap reads records.jsonl of a partition larger than the
// bound through the mount and checks that the Go heap in use (the mount
// runs in this process) stays under the bound: reads keep a block or two
// per open file, never the partition. BenchmarkCatMemory does the same
// with about 400 MB.
func TestCatBoundedHeap(t *testing.T) {
	requireFUSE(t)
	st, _ := openStore(t)
	loc := store.Loc{Topic: "wide"}
	writeBigPartition(t, st, loc, 10) // about 88 MiB decoded
	mp := mountStore(t, st, Options{})
	file := filepath.Join(mp, "topics/wide/snapshots/v0/0/records.jsonl")
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	// With GOGC=100 the peak is set by the GC's pacing (garbage may grow to
	// the live heap) over the test binary's own heap, not by the file:
	// about 35 MiB for 50 MiB or 450 MiB read. A lower GOGC keeps the peak
	// near the live heap, so the bound holds with a margin under -race and
	// parallel packages, while a reader holding the partition (88 MiB)
	// still exceeds it.
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	const bound = 48 << 20
	if fi.Size() < 3*bound/2 {
		t.Fatalf("partition of %d bytes is too small to show the bound", fi.Size())
	}
	h := sampleHeap(2 * time.Millisecond)
	n := catFile(t, file)
	peak := h.Stop()
	if n != fi.Size() {
		t.Fatalf("read %d bytes, want %d", n, fi.Size())
	}
	t.Logf("read %d MiB; heap in use %.1f MiB before, %.1f MiB at peak", n>>20, float64(h.base)/(1<<20), float64(peak)/(1<<20))
	if peak > bound {
		t.Errorf("peak heap in use %d MiB while reading %d MiB, want under %d MiB", peak>>20, n>>20, bound>>20)
	}
}
