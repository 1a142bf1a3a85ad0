package integration

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
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

// TestCompactKill9 kills kbackup index compact with SIGKILL at growing
// delays, so that kills land before, during and after its merges, its
// index switch and its deletions. After every kill the index must be
// whole (verify finds no damage) and hold every record once, as kcat
// reads them; a last run must finish and leave no unindexed object.
func TestCompactKill9(t *testing.T) {
	c := startCluster(t)
	createTopic(t, c.Addr(), "killed", 1, nil)
	produceN(t, c.Addr(), "killed", 1, 0, 30000)
	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--segment-bytes", "4KiB", "--compression", "none"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, r.stderr)
	}
	want := kcatRead(t, c.Addr(), "killed")
	compact := []string{"index", "compact", "--storage", dir, "--grace", "0", "--segment-bytes", "16KiB", "killed"}
	for _, d := range []time.Duration{30, 150, 300, 450, 550, 650, 750, 850, 1000, 1200} {
		cmd, _ := startKbackup(t, compact...)
		time.Sleep(d * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		r := kbackup(t, "verify", "--storage", dir, "killed")
		if r.code != 0 {
			t.Fatalf("verify after a kill at %d ms: exit %d: %s%s", d, r.code, r.stdout, r.stderr)
		}
		sameRecords(t, "storage after a kill at "+d.String()+"ms", want, storageRead(t, dir, "killed", 1))
		indexed, objects := segmentCounts(t, dir, "killed")
		t.Logf("killed after %d ms: %d segments indexed, %d objects", d, indexed, objects)
	}
	if r := kbackup(t, compact...); r.code != 0 {
		t.Fatalf("compact after the kills: exit %d: %s", r.code, r.stderr)
	} else {
		t.Log(r.stdout)
	}
	r := kbackup(t, "verify", "--storage", dir, "-o", "json", "killed")
	if r.code != 0 || strings.Contains(r.stdout, "unindexed") {
		t.Fatalf("verify after the last compact: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	sameRecords(t, "storage after the last compact", want, storageRead(t, dir, "killed", 1))
}

// segmentCounts returns how many segments the index of topic's v1 names
// and how many segment objects there are.
func segmentCounts(t *testing.T, dir, topic string) (indexed, objects int) {
	t.Helper()
	st := openStorage(t, dir)
	defer st.Close()
	loc := store.Loc{Topic: topic, Version: 1}
	ix, err := st.ReadIndex(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := st.ListSegments(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	return len(ix.Segments), len(listed)
}
