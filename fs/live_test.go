package fs

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLiveRefresh(t *testing.T) {
	b := newBackup(t)
	const refresh = 300 * time.Millisecond
	mp := mountStore(t, b.st, Options{Refresh: refresh})
	ctx := context.Background()
	v2 := store.Loc{Topic: "orders", Version: 2}
	dir := filepath.Join(mp, "topics/orders/snapshots/v2/0")
	rec := dir + "/records.jsonl"
	old := jsonLines(b.recs[v2][0])

	// Open before growth and read a little, through the page cache.
	f, err := os.Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 100)
	if _, err := io.ReadFull(f, head); err != nil {
		t.Fatal(err)
	}
	if got := run(t, "ls", mp+"/topics"); got != "legacy\norders\n" {
		t.Fatalf("ls topics: %q", got)
	}

	// A backup appends a segment, a new topic and a new snapshot appear.
	last := b.recs[v2][0][len(b.recs[v2][0])-1].Offset
	more := genRecords(0, last+1, 60)
	b.addSegments(t, v2, 0, more, 60)
	grown := append(append([]byte(nil), old...), jsonLines(more)...)
	newSeg := segmentName(&b.segs[v2][0][len(b.segs[v2][0])-1])
	b.addSegments(t, store.Loc{Topic: "fresh"}, 0, genRecords(0, 0, 5), 5)
	m, err := b.st.ReadManifest(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	m.Snapshots = append(m.Snapshots, store.Snapshot{Version: 3, Created: baseTime.Add(2 * time.Hour), Partitions: 1})
	m.Active = 3
	writeManifest(t, b.st, m)
	b.addSegments(t, store.Loc{Topic: "orders", Version: 3}, 0, genRecords(0, 0, 5), 5)

	within := refresh + 3*time.Second
	eventually(t, within, "records.jsonl grows", func() bool {
		return run(t, "stat", "-c", "%s", rec) == fmt.Sprintf("%d\n", len(grown))
	})
	eventually(t, within, "new segment listed", func() bool {
		return strings.Contains(run(t, "ls", dir+"/segments"), newSeg)
	})
	eventually(t, within, "new topic listed", func() bool {
		return run(t, "ls", mp+"/topics") == "fresh\nlegacy\norders\n"
	})
	eventually(t, within, "latest moves to v3", func() bool {
		return run(t, "readlink", mp+"/topics/orders/latest") == "snapshots/v3\n"
	})
	if got := run(t, "cat", rec); got != string(grown) {
		t.Errorf("records.jsonl after growth differs (len %d, want %d)", len(got), len(grown))
	}
	if got := run(t, "tail", "-n", "1", rec); got != string(jsonLines(more[len(more)-1:])) {
		t.Errorf("tail -n 1 after growth: %q", got)
	}

	// The file opened before growth still reads its own view.
	rest, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(head) + string(rest); got != string(old) {
		t.Errorf("file opened before growth read %d bytes, want its view of %d", len(got), len(old))
	}
	if got := run(t, "ls", mp+"/topics/orders/latest/0/segments"); strings.Count(got, "\n") != 1 {
		t.Errorf("v3 segments: %q", got)
	}
}

// TestSegmentsListingCached: an unchanged segments/ directory is listed by
// the kernel from its cache from the third listing on (the mount is not
// asked: dirs_listed stays), and a listing after the segments changed, by
// a new segment or by a rewrite that removes some (compaction), shows
// exactly the new set, never the cached one.
func TestSegmentsListingCached(t *testing.T) {
	b := newBackup(t)
	const refresh = 300 * time.Millisecond
	mp := mountStore(t, b.st, Options{Refresh: refresh})
	v2 := store.Loc{Topic: "orders", Version: 2}
	dir := filepath.Join(mp, "topics/orders/snapshots/v2/1/segments")
	names := func() string {
		var s string
		for i := range b.segs[v2][1] {
			s += segmentName(&b.segs[v2][1][i]) + "\n"
		}
		return s
	}
	for range 3 {
		if got := run(t, "ls", dir); got != names() {
			t.Fatalf("ls segments: %q, want %q", got, names())
		}
	}
	listed := mountCounters(t, mp)["dirs_listed"]
	for range 3 {
		if got := run(t, "ls", "-l", dir); strings.Count(got, "\n") != len(b.segs[v2][1])+1 {
			t.Fatalf("ls -l segments: %q", got)
		}
	}
	if n := mountCounters(t, mp)["dirs_listed"]; n != listed {
		t.Fatalf("an unchanged segments/ was listed %d more times by the mount, want 0 (from the kernel's cache)", n-listed)
	}

	// A new segment: the next listings show it.
	last := b.recs[v2][1][len(b.recs[v2][1])-1].Offset
	b.addSegments(t, v2, 1, genRecords(1, last+1, 10), 10)
	eventually(t, refresh+3*time.Second, "the new segment listed", func() bool { return run(t, "ls", dir) == names() })
	for range 3 {
		if got := run(t, "ls", dir); got != names() {
			t.Fatalf("ls after the new segment: %q, want %q", got, names())
		}
	}

	// The first two segments replaced by one (as compaction does).
	es := b.segs[v2][1]
	merged := writeSegment(t, b.st, v2, 1, b.recs[v2][1][:int(es[0].Records+es[1].Records)], 600, store.CodecZstd)
	ix, err := b.st.ReadIndex(context.Background(), v2)
	if err != nil {
		t.Fatal(err)
	}
	var entries []store.SegmentEntry
	for _, e := range ix.Segments {
		if e.ULID == es[0].ULID {
			e = merged
		} else if e.ULID == es[1].ULID {
			continue
		}
		entries = append(entries, e)
	}
	writeIndex(t, b.st, v2, entries)
	b.segs[v2][1] = append([]store.SegmentEntry{merged}, es[2:]...)
	eventually(t, refresh+3*time.Second, "the merged segment listed", func() bool { return run(t, "ls", dir) == names() })
	for range 3 {
		if got := run(t, "ls", dir); got != names() {
			t.Fatalf("ls after the merge: %q, want %q", got, names())
		}
	}
}
