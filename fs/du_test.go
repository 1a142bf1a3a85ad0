package fs

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/store"
)

// TestDiskUsage checks that du tells what storage holds while ls -l tells
// the decoded sizes: st_blocks of records.jsonl count its stored bytes,
// those of its segment files none (the same bytes). Directories have 2 + subdirectories links and list . and
// .. (ls -a).
func TestDiskUsage(t *testing.T) {
	b := newBackup(t)
	mp := mountStore(t, b.st, Options{})
	v2 := filepath.Join(mp, "topics", "orders", "snapshots", "v2")
	v2Loc := store.Loc{Topic: "orders", Version: 2}
	blocks := func(n int64) int64 { return (n + 511) / 512 * 512 }

	var stored, decoded int64
	for _, e := range b.segs[v2Loc][1] {
		stored += e.StoredBytes
		decoded += e.DecodedBytes
	}
	got := sh(t, "stat -c '%s %b %B' "+v2+"/1/records.jsonl")
	if want := fmt.Sprintf("%d %d 512\n", decoded, blocks(stored)/512); got != want {
		t.Errorf("stat records.jsonl: %q, want %q (size decoded %d, blocks of stored %d)", got, want, decoded, stored)
	}
	if got, want := sh(t, "du -B1 "+v2+"/1/records.jsonl | cut -f1"), fmt.Sprintf("%d\n", blocks(stored)); got != want {
		t.Errorf("du -B1 records.jsonl: %q, want %q", got, want)
	}
	// A segment file's bytes are records.jsonl's: its blocks are 0, so
	// that du of the partition counts each stored byte once.
	seg := b.segs[v2Loc][1][0]
	got = sh(t, "stat -c '%s %b' "+v2+"/1/segments/"+segmentName(&seg))
	if want := fmt.Sprintf("%d 0\n", seg.DecodedBytes); got != want {
		t.Errorf("stat of a segment file: %q, want %q", got, want)
	}
	if got, want := sh(t, "du -s -B1 "+v2+"/1 | cut -f1"), fmt.Sprintf("%d\n", blocks(stored)); got != want {
		t.Errorf("du -s -B1 of the partition: %q, want %q (what storage holds)", got, want)
	}

	links := []struct{ dir, want string }{
		{mp, "4"},                              // ., .., topics, restore
		{mp + "/topics", "4"},                  // legacy, orders
		{mp + "/topics/orders", "3"},           // snapshots
		{mp + "/topics/orders/snapshots", "4"}, // v1, v2
		{v2, "5"},                              // 0, 1, 2
		{v2 + "/1", "3"},                       // segments
		{v2 + "/1/segments", "2"},
	}
	for _, l := range links {
		if got := strings.TrimSpace(sh(t, "stat -c %h "+l.dir)); got != l.want {
			t.Errorf("links of %s: %s, want %s", l.dir, got, l.want)
		}
	}
	if got := sh(t, "ls -a "+v2+"/1"); got != ".\n..\nrecords.jsonl\nsegments\n" {
		t.Errorf("ls -a of a partition: %q", got)
	}
	if got := sh(t, "ls -a "+mp); got != ".\n..\nrestore\ntopics\n" {
		t.Errorf("ls -a of the root: %q", got)
	}
	// The access time is the modification time, not 1970.
	for _, f := range []string{v2 + "/1/records.jsonl", v2, mp} {
		if got := strings.Fields(sh(t, "stat -c '%X %Y' "+f)); got[0] != got[1] || got[0] == "0" {
			t.Errorf("atime and mtime of %s: %v", f, got)
		}
	}
}
