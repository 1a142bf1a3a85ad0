package integration

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/store"
)

func produceN(t *testing.T, addr, topic string, partitions int32, from, n int) {
	t.Helper()
	cl := client(t, addr)
	var rs []*kgo.Record
	for i := from; i < from+n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Value: []byte("v" + string(rune('a'+i%26)))})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func storedCount(t *testing.T, dir, topic string, version int) int {
	t.Helper()
	n := 0
	for _, rs := range storageRead(t, dir, topic, version) {
		n += len(rs)
	}
	return n
}

// readManifest returns topic's manifest in the storage at dir, or nil when
// there is none yet.
func readManifest(t *testing.T, dir, topic string) *store.Manifest {
	t.Helper()
	st := openStorage(t, dir)
	defer st.Close()
	m, err := st.ReadManifest(context.Background(), topic)
	if store.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// leaseHeld reports whether topic's lease in the storage at dir is taken
// and not released.
func leaseHeld(t *testing.T, dir, topic string) bool {
	t.Helper()
	st := openStorage(t, dir)
	defer st.Close()
	l, err := st.ReadLease(context.Background(), topic)
	if store.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return !l.Released
}

func openStorage(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDaemonFollowsAndRecreates covers acceptance 3 (records are stored
// within the segment age), new topics being picked up, and acceptance 4: a
// topic deleted and recreated under the daemon becomes snapshot v2.
func TestDaemonFollowsAndRecreates(t *testing.T) {
	c := startCluster(t)
	createTopic(t, c.Addr(), "live", 2, nil)
	dir := t.TempDir()
	cmd, logs := startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir,
		"--segment-age", "1s", "--discovery-interval", "300ms")
	produceN(t, c.Addr(), "live", 2, 0, 100)
	waitFor(t, 10*time.Second, "100 records stored within the segment age", func() bool {
		return readManifest(t, dir, "live") != nil && storedCount(t, dir, "live", 0) == 100
	})
	createTopic(t, c.Addr(), "later", 1, nil)
	produceN(t, c.Addr(), "later", 1, 0, 10)
	waitFor(t, 10*time.Second, "a topic created later is backed up", func() bool {
		return readManifest(t, dir, "later") != nil && storedCount(t, dir, "later", 0) == 10
	})

	old := readManifest(t, dir, "live").Snapshots[0].TopicID
	if err := c.Kfake().DeleteTopic("live"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	createTopic(t, c.Addr(), "live", 3, nil)
	produceN(t, c.Addr(), "live", 3, 0, 30)
	waitFor(t, 15*time.Second, "snapshot v2 with the new topic's records", func() bool {
		m := readManifest(t, dir, "live")
		return m != nil && m.Active == 2 && storedCount(t, dir, "live", 2) == 30
	})
	m := readManifest(t, dir, "live")
	if len(m.Snapshots) != 2 || m.Snapshots[0].Archived == nil || m.Snapshots[0].TopicID != old ||
		m.Snapshots[1].TopicID == old || m.Snapshots[1].Archived != nil || m.Snapshots[1].Partitions != 3 {
		t.Fatalf("manifest after recreation: %+v", m)
	}
	if n := storedCount(t, dir, "live", 1); n != 100 {
		t.Fatalf("v1 holds %d records, want the old topic's 100", n)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon did not exit 0 on SIGTERM: %v\n%s", err, logs)
	}
	if leaseHeld(t, dir, "live") {
		t.Error("lease not released on SIGTERM")
	}
}

// TestSecondDaemonLease is acceptance 5: a second daemon on the same topic
// fails naming the holder; after the first is SIGKILLed a new one takes over
// within the TTL.
func TestSecondDaemonLease(t *testing.T) {
	c := startCluster(t)
	createTopic(t, c.Addr(), "leased", 1, nil)
	dir := t.TempDir()
	first, logs := startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir, "--lease-ttl", "3s")
	waitFor(t, 10*time.Second, "first daemon holds the lease", func() bool {
		return leaseHeld(t, dir, "leased")
	})
	r := kbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir, "--lease-ttl", "3s")
	if r.code == 0 || !strings.Contains(r.stderr, "storage error: resource already held by someone else") ||
		!strings.Contains(r.stderr, ":"+itoa(first.Process.Pid)) {
		t.Fatalf("second daemon: exit %d, stderr %q; want the lease error naming pid %d", r.code, r.stderr, first.Process.Pid)
	}
	if strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("lease error is not one line: %q", r.stderr)
	}
	_ = first.Process.Kill()
	_ = first.Wait()
	second, logs2 := startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir, "--lease-ttl", "3s", "--segment-age", "500ms")
	produceN(t, c.Addr(), "leased", 1, 0, 5)
	waitFor(t, 10*time.Second, "the new daemon stores records", func() bool {
		return storedCount(t, dir, "leased", 0) == 5
	})
	_ = second.Process.Signal(syscall.SIGTERM)
	_ = second.Wait()
	_, _ = logs, logs2
}

func itoa(i int) string { return strconv.Itoa(i) }
