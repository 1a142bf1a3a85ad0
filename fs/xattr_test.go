package fs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kbackup/kbackup/store"
)

// TestXattrsAnswerENOSYS checks that the mount answers getxattr and
// listxattr with ENOSYS, so that the kernel stops asking: ls -l of a
// directory of many files then makes at most one request of each kind,
// not two per file (GNU ls asks for the ACL and the SELinux label).
func TestXattrsAnswerENOSYS(t *testing.T) {
	requireFUSE(t)
	st, _ := openStore(t)
	loc := store.Loc{Topic: "big", Version: 1}
	const n = 2000
	writeBigIndex(t, st, loc, n)
	mp := mountStore(t, st, Options{})
	part := mp + "/topics/big/snapshots/v1/0"

	out := sh(t, "ls -l "+part+"/segments")
	if got := strings.Count(out, ".jsonl\n"); got != n {
		t.Fatalf("ls -l listed %d segments, want %d", got, n)
	}
	if c := mountCounters(t, mp); c["xattr_requests"] > 2 {
		t.Fatalf("ls -l of %d files made %d xattr requests, want at most 2 (one getxattr, one listxattr)", n, c["xattr_requests"])
	}

	file := part + "/records.jsonl"
	if _, err := unix.Getxattr(file, "user.anything", make([]byte, 64)); !errors.Is(err, unix.ENOTSUP) {
		t.Errorf("getxattr %s: %v, want %v", file, err, unix.ENOTSUP)
	}
	if _, err := unix.Listxattr(file, make([]byte, 64)); !errors.Is(err, unix.ENOTSUP) {
		t.Errorf("listxattr %s: %v, want %v", file, err, unix.ENOTSUP)
	}
	before := mountCounters(t, mp)["xattr_requests"]
	if before == 0 || before > 2 {
		t.Fatalf("xattr_requests %d after ls -l, getxattr and listxattr, want 1 or 2", before)
	}
	sh(t, "ls -l "+part+"/segments "+part+" "+mp+"/topics >/dev/null")
	if _, err := unix.Getxattr(file, "user.other", make([]byte, 64)); !errors.Is(err, unix.ENOTSUP) {
		t.Errorf("second getxattr %s: %v, want %v", file, err, unix.ENOTSUP)
	}
	if after := mountCounters(t, mp)["xattr_requests"]; after != before {
		t.Fatalf("xattr requests reached the mount after it answered ENOSYS: %d, then %d", before, after)
	}
}

// TestStatsFile checks MOUNTPOINT/.kbackup/stats: hidden, read-only, its
// size exact, and its counters move with what the mount serves.
func TestStatsFile(t *testing.T) {
	b := newBackup(t)
	mp := mountStore(t, b.st, Options{})
	if got := sh(t, "ls "+mp); got != "restore\ntopics\n" {
		t.Fatalf("ls of the root shows %q, want only restore and topics", got)
	}
	stats := filepath.Join(mp, statsDir, statsFile)
	fi, err := os.Stat(stats)
	if err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != int64(len(content)) || fi.Mode().Perm() != 0o444 {
		t.Fatalf("stats: size %d mode %v, content %d bytes; want the exact size, 0444", fi.Size(), fi.Mode(), len(content))
	}
	for _, name := range []string{"read_bytes", "copied_bytes", "xattr_requests", "manifests_read", "blocks_decoded"} {
		if !strings.Contains("\n"+string(content), "\n"+name+" ") {
			t.Errorf("stats lacks %s:\n%s", name, content)
		}
	}
	if err := os.WriteFile(stats, []byte("x"), 0o644); err == nil {
		t.Error("writing stats succeeded, want EROFS")
	}
	if err := os.Mkdir(filepath.Join(mp, statsDir, "x"), 0o755); err == nil {
		t.Error("mkdir in .kbackup succeeded, want EROFS")
	}
	before := mountCounters(t, mp)
	data := sh(t, "cat "+mp+"/topics/orders/latest/0/records.jsonl")
	after := mountCounters(t, mp)
	if d := after["read_bytes"] - before["read_bytes"]; d != int64(len(data)) || d == 0 {
		t.Fatalf("read_bytes grew by %d after cat of %d bytes", d, len(data))
	}
}
