package integration

import (
	"context"
	"fmt"
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

// TestDaemonCompactKill9 kills a backup daemon that compacts every 100 ms
// with SIGKILL at random moments, while records keep arriving: kills land
// during merges, index switches, deletions and the daemon's own commits.
// After every kill the backup must verify; in the end a daemon left to
// finish must hold every record once, as kcat reads them, in far fewer
// objects, with nothing unindexed left behind.
func TestDaemonCompactKill9(t *testing.T) {
	needKcat(t)
	c := startCluster(t)
	const topic = "compacted"
	createTopic(t, c.Addr(), topic, 2, nil)
	produceN(t, c.Addr(), topic, 2, 0, 20000)
	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--segment-bytes", "4KiB", "--compression", "none"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, r.stderr)
	}
	first, _ := segmentCounts(t, dir, topic)
	args := []string{"backup", "--brokers", c.Addr(), "--storage", dir, "--topic", topic, "--segment-bytes", "256KiB",
		"--segment-age", "50ms", "--compression", "none", "--compact-interval", "100ms", "--compact-grace", "0", "--discovery-interval", "50ms"}
	landed := 0
	for i := 0; i < kills(); i++ {
		produceN(t, c.Addr(), topic, 2, 20000+i*100, 100)
		if killAfter(t, 2*time.Second, args...) {
			landed++
		}
		if r := kbackup(t, "verify", "--storage", dir, topic); r.code != 0 {
			t.Fatalf("verify after kill %d: exit %d: %s%s", i, r.code, r.stdout, r.stderr)
		}
	}
	if landed == 0 {
		t.Fatal("no kill landed: the test proves nothing")
	}
	if mid, _ := segmentCounts(t, dir, topic); mid >= first {
		t.Fatalf("%d segments after the kills, %d before: no merge happened between kills, the test proves nothing", mid, first)
	}
	want := kcatRead(t, c.Addr(), topic)
	total := 0
	for _, rs := range want {
		total += len(rs)
	}
	d, logs := startKbackup(t, args...)
	waitFor(t, 20*time.Second, "the daemon to take the lease", func() bool { return leaseHolder(t, dir, topic) == d.Process.Pid })
	state := ""
	defer func() {
		if t.Failed() {
			t.Logf("%s\n%s", state, logs)
		}
	}()
	waitFor(t, 60*time.Second, "every record stored and the segments merged", func() bool {
		indexed, objects := segmentCounts(t, dir, topic)
		got := 0
		for _, rs := range storageRead(t, dir, topic, 1) {
			got += len(rs)
		}
		if got != total || indexed != objects || indexed >= first/3 {
			state = fmt.Sprintf("%d of %d records stored, %d segments indexed, %d objects, want fewer than %d", got, total, indexed, objects, first/3)
			return false
		}
		return true
	})
	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Fatalf("daemon: %v\n%s", err, logs)
	}
	sameRecords(t, "after the kills", want, storageRead(t, dir, topic, 1))
	noOrphans(t, dir, topic)
	indexed, _ := segmentCounts(t, dir, topic)
	t.Logf("%d kills landed; %d segments before the daemon compacted, %d after", landed, first, indexed)
}
