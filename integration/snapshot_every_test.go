package integration

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

// TestDaemonSnapshotEvery runs the binary with --snapshot-every 2s while
// records are produced for about seven seconds: versions are cut on
// schedule, each starts exactly where the previous one ended, and together
// they hold every record of the topic exactly once.
func TestDaemonSnapshotEvery(t *testing.T) {
	needKcat(t)
	c := startCluster(t)
	const topic = "every"
	createTopic(t, c.Addr(), topic, 2, nil)
	dir := t.TempDir()
	cmd, logs := startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir,
		"--snapshot-every", "2s", "--discovery-interval", "200ms", "--segment-age", "300ms")
	waitFor(t, 10*time.Second, "the daemon to start", func() bool { return readManifest(t, dir, topic) != nil })
	n := 0
	for start := time.Now(); time.Since(start) < 7*time.Second; n += 20 {
		produceN(t, c.Addr(), topic, 2, n, 20)
		time.Sleep(250 * time.Millisecond)
	}
	waitFor(t, 10*time.Second, "every record stored", func() bool {
		m := readManifest(t, dir, topic)
		total := 0
		for _, s := range m.Snapshots {
			total += storedCount(t, dir, topic, s.Version)
		}
		return total >= n
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon did not exit 0 on SIGTERM: %v\n%s", err, logs)
	}

	m := readManifest(t, dir, topic)
	if len(m.Snapshots) < 3 || m.Active != m.Snapshots[len(m.Snapshots)-1].Version {
		t.Fatalf("%d versions (active v%d) after 7s with --snapshot-every 2s, want at least 3:\n%s", len(m.Snapshots), m.Active, logs)
	}
	union := map[int32][]rec{}
	next := map[int32]int64{} // where the previous version ended, per partition
	ctx := context.Background()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i, s := range m.Snapshots {
		if i > 0 {
			prev := m.Snapshots[i-1]
			gap := s.Created.Sub(prev.Created)
			if gap < 2*time.Second {
				t.Errorf("v%d created %s after v%d, earlier than --snapshot-every 2s", s.Version, gap, prev.Version)
			}
			if prev.Archived == nil || !strings.Contains(s.Reason, "scheduled") {
				t.Errorf("v%d: archived %v; v%d reason %q", prev.Version, prev.Archived, s.Version, s.Reason)
			}
			for p, off := range next {
				if s.StartOffsets[p] != off {
					t.Errorf("v%d partition %d: manifest start offset %d, v%d ended at %d", s.Version, p, s.StartOffsets[p], prev.Version, off)
				}
			}
		}
		ix, err := st.ReadIndex(ctx, store.Loc{Topic: topic, Version: s.Version})
		if store.IsNotFound(err) {
			continue // a version cut before any segment was written
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ix.PartitionIDs() {
			es := ix.Partition(p)
			if len(es) == 0 {
				continue
			}
			if off, ok := next[p]; ok && es[0].StartOffset != off {
				t.Errorf("v%d partition %d starts at %d, the previous version ended at %d", s.Version, p, es[0].StartOffset, off)
			}
			next[p] = es[len(es)-1].NextOffset
		}
		for p, rs := range storageRead(t, dir, topic, s.Version) {
			union[p] = append(union[p], rs...)
		}
	}
	sameRecords(t, "all versions together", kcatRead(t, c.Addr(), topic), union)
	t.Logf("%d records in %d versions", n, len(m.Snapshots))
}

// TestDaemonSnapshotEveryIdle: --snapshot-every does not cut empty versions
// of an idle topic; the first version with records is cut on schedule.
func TestDaemonSnapshotEveryIdle(t *testing.T) {
	c := startCluster(t)
	const topic = "idle"
	createTopic(t, c.Addr(), topic, 1, nil)
	dir := t.TempDir()
	cmd, logs := startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir,
		"--snapshot-every", "1s", "--discovery-interval", "100ms", "--segment-age", "200ms")
	waitFor(t, 10*time.Second, "the daemon to start", func() bool { return readManifest(t, dir, topic) != nil })
	time.Sleep(3 * time.Second) // three periods with nothing to back up
	if m := readManifest(t, dir, topic); len(m.Snapshots) != 1 {
		t.Fatalf("idle topic: %d versions after 3 periods, want 1 (no empty cuts):\n%s", len(m.Snapshots), logs)
	}
	produceN(t, c.Addr(), topic, 1, 0, 5)
	waitFor(t, 10*time.Second, "a scheduled cut after records arrived", func() bool {
		return len(readManifest(t, dir, topic).Snapshots) >= 2
	})
	time.Sleep(2 * time.Second) // idle again: no further cut
	m := readManifest(t, dir, topic)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon did not exit 0 on SIGTERM: %v\n%s", err, logs)
	}
	if len(m.Snapshots) != 2 || storedCount(t, dir, topic, 1) != 5 {
		t.Fatalf("%d versions, v1 holds %d records; want 2 versions, v1 with the 5 records:\n%s", len(m.Snapshots), storedCount(t, dir, topic, 1), logs)
	}
}
