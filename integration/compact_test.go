package integration

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMountCompact compacts a snapshot of many small segments while the
// mount is reading it: a file opened before reads the old segments to its
// end during the grace period, a new open reads the merged ones, and both
// read the same bytes, which kcat's records match; verify passes after.
func TestMountCompact(t *testing.T) {
	c := startCluster(t)
	createTopic(t, c.Addr(), "small", 1, nil)
	produceN(t, c.Addr(), "small", 1, 0, 3000)
	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--segment-bytes", "4KiB", "--compression", "none"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, r.stderr)
	}
	want := kcatRead(t, c.Addr(), "small")
	mp := mountKbackup(t, dir)
	part := filepath.Join(mp, "topics/small/latest/0")
	before := strings.Count(shell(t, "ls "+part+"/segments"), "\n")
	if before < 10 {
		t.Fatalf("backup wrote %d segments, want many small ones", before)
	}
	whole := shell(t, "cat "+part+"/records.jsonl")
	f, err := os.Open(part + "/records.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 100)
	if _, err := io.ReadFull(f, head); err != nil {
		t.Fatal(err)
	}

	cmd, logs := startKbackup(t, "index", "compact", "--storage", dir, "--grace", "4s", "small")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor(t, 20*time.Second, "the mount lists the merged segments", func() bool {
		return strings.Count(shell(t, "ls "+part+"/segments"), "\n") < before
	})
	select {
	case err := <-done:
		t.Fatalf("compact ended before its grace period (%v):\n%s", err, logs)
	default:
	}
	rest, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("file opened before the compaction, read during the grace: %v", err)
	}
	if got := string(head) + string(rest); got != whole {
		t.Errorf("file opened before the compaction read %d bytes, want %d", len(got), len(whole))
	}
	if got := shell(t, "cat "+part+"/records.jsonl"); got != whole {
		t.Errorf("records.jsonl after compaction differs (%d bytes, want %d)", len(got), len(whole))
	}
	if err := <-done; err != nil {
		t.Fatalf("compact: %v\n%s", err, logs)
	}
	after := strings.Count(shell(t, "ls "+part+"/segments"), "\n")
	t.Logf("%d segments -> %d", before, after)
	if r := kbackup(t, "verify", "--storage", dir, "small"); r.code != 0 {
		t.Fatalf("verify after compact: exit %d: %s", r.code, r.stderr)
	}
	sameRecords(t, "compacted storage vs kcat", want, storageRead(t, dir, "small", 1))
}
