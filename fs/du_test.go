package fs

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/store"
)

// TestDiskUsage checks the attributes ls and du read: st_blocks cover the
// decoded size (blocks short of the size would make cp take a file for
// sparse and read it, instead of copy_file_range, which restore by copy
// relies on), directories have 2 + subdirectories links and list . and ..
// (ls -a), and atime is the modification time.
func TestDiskUsage(t *testing.T) {
	b := newBackup(t)
	mp := mountStore(t, b.st, Options{})
	v2 := filepath.Join(mp, "topics", "orders", "snapshots", "v2")
	v2Loc := store.Loc{Topic: "orders", Version: 2}
	blocks := func(n int64) int64 { return (n + 511) / 512 }

	var decoded int64
	for _, e := range b.segs[v2Loc][1] {
		decoded += e.DecodedBytes
	}
	got := sh(t, "stat -c '%s %b %B' "+v2+"/1/records.jsonl")
	if want := fmt.Sprintf("%d %d 512\n", decoded, blocks(decoded)); got != want {
		t.Errorf("stat records.jsonl: %q, want %q", got, want)
	}
	seg := b.segs[v2Loc][1][0]
	got = sh(t, "stat -c '%s %b' "+v2+"/1/segments/"+segmentName(&seg))
	if want := fmt.Sprintf("%d %d\n", seg.DecodedBytes, blocks(seg.DecodedBytes)); got != want {
		t.Errorf("stat of a segment file: %q, want %q", got, want)
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
