package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
)

// TestFlatLayoutWithoutTopicIDs: a cluster without topic IDs gets the flat
// layout with a warning; recreating such a topic stops the backup with
// instructions, at start-up and under a running daemon.
func TestFlatLayoutWithoutTopicIDs(t *testing.T) {
	c, err := devcluster.Start(devcluster.Options{NoTopicIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	createTopic(t, c.Addr(), "old", 1, nil)
	produceN(t, c.Addr(), "old", 1, 0, 50)
	dir := t.TempDir()
	r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir)
	if r.code != 0 || !strings.Contains(r.stderr, "no topic IDs") {
		t.Fatalf("exit %d, want the flat-layout warning: %s", r.code, r.stderr)
	}
	st := openStorage(t, dir)
	if l, err := st.TopicLayout(context.Background(), "old"); err != nil || l != store.LayoutFlat {
		t.Fatalf("layout %v, %v; want the flat layout", l, err)
	}
	st.Close()
	if _, err := os.Stat(filepath.Join(dir, "old", "index.d", "heads")); err != nil {
		t.Fatalf("flat index missing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "old", "manifest.d")); !os.IsNotExist(err) {
		t.Fatal("a flat-layout topic got a manifest")
	}
	if n := storedCount(t, dir, "old", -1); n != 50 {
		t.Fatalf("flat layout holds %d records, want 50", n)
	}

	// Under a running daemon: the partition goes back to offset 0.
	cmd, logs := startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir, "--segment-age", "300ms", "--discovery-interval", "300ms")
	time.Sleep(time.Second)
	if err := c.Kfake().DeleteTopic("old"); err != nil {
		t.Fatal(err)
	}
	createTopic(t, c.Addr(), "old", 1, nil)
	produceN(t, c.Addr(), "old", 1, 0, 10)
	waitFor(t, 20*time.Second, "the daemon to stop on the recreated flat topic", func() bool {
		return strings.Contains(logs.String(), "flat layout")
	})
	_ = cmd.Wait()
	if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(logs.String(), "move or delete old/") {
		t.Fatalf("daemon exit %d, want instructions: %s", cmd.ProcessState.ExitCode(), logs)
	}
	// At start-up: the stored offsets run past the live topic's end.
	r = kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir)
	if r.code == 0 || !strings.Contains(r.stderr, "move or delete old/") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if n := storedCount(t, dir, "old", -1); n != 50 {
		t.Fatalf("the old backup changed: %d records", n)
	}
}
