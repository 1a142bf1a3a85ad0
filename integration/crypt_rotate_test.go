package integration

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/crypt"
)

// encryptedCount counts the records indexed in topic's active snapshot of
// encrypted storage dir, opened with key; -1 when the key does not open it
// or nothing is indexed yet.
func encryptedCount(t *testing.T, dir, key, topic string) int64 {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenWith(ctx, dir, store.Options{EncryptionKey: key, Existing: true})
	if err != nil {
		return -1
	}
	defer st.Close()
	m, err := st.ReadManifest(ctx, topic)
	if err != nil {
		return -1
	}
	ix, err := st.ReadIndex(ctx, store.Loc{Topic: topic, Version: m.Active})
	if err != nil {
		return -1
	}
	var n int64
	for _, p := range ix.PartitionIDs() {
		for _, e := range ix.Partition(p) {
			n += e.Records
		}
	}
	return n
}

// TestEncryptedKeyRotationWhileDaemonRuns rotates the key of an encrypted
// backup under a running backup daemon: the daemon keeps backing up new
// records, everything it wrote before and after opens with the new key
// only (verify, restore checked with kcat), the old key no longer starts a
// daemon, and the daemon stops cleanly.
func TestEncryptedKeyRotationWhileDaemonRuns(t *testing.T) {
	needKcat(t)
	c := startCluster(t)
	createTopic(t, c.Addr(), "rot", 2, nil)
	produceN(t, c.Addr(), "rot", 2, 0, 200)
	newKey := func() string { return "base64key://" + base64.URLEncoding.EncodeToString(crypt.NewSalt()) }
	oldKey, newKEK := newKey(), newKey()
	dir := t.TempDir()
	daemon, logs := startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir, "--encryption-key", oldKey,
		"--segment-age", "500ms", "--discovery-interval", "300ms")
	waitFor(t, 20*time.Second, "200 records stored", func() bool { return encryptedCount(t, dir, oldKey, "rot") == 200 })

	if r := kbackup(t, "key", "rotate", "--storage", dir, "--encryption-key", oldKey, "--new-key", newKEK); r.code != 0 {
		t.Fatalf("key rotate while the daemon runs: exit %d: %s", r.code, r.stderr)
	}
	if n := encryptedCount(t, dir, oldKey, "rot"); n != -1 {
		t.Fatalf("the rotated-out key still opens the storage (%d records)", n)
	}
	produceN(t, c.Addr(), "rot", 2, 200, 150)
	waitFor(t, 20*time.Second, "350 records stored after the rotation", func() bool { return encryptedCount(t, dir, newKEK, "rot") == 350 })

	// The old key no longer starts a second daemon (it fails before the
	// lease, in one line).
	r := kbackupEnv(t, 30*time.Second, nil, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--encryption-key", oldKey)
	oneLineFailure(t, "backup with the rotated-out key", r, "wrong encryption key")

	if err := daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := daemon.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, logs)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the daemon logged errors across the rotation:\n%s", logs)
	}
	if r := kbackup(t, "verify", "--storage", dir, "--encryption-key", newKEK); r.code != 0 || !strings.Contains(r.stdout, " 0 damaged") {
		t.Fatalf("verify with the new key: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if r := kbackup(t, "restore", "--brokers", c.Addr(), "--storage", dir, "--encryption-key", newKEK, "--topic", "rot:rot-copy", "--create-topics"); r.code != 0 {
		t.Fatalf("restore with the new key: exit %d: %s", r.code, r.stderr)
	}
	want := kcatRead(t, c.Addr(), "rot")
	sameRecords(t, "rot-copy", content(want), content(kcatRead(t, c.Addr(), "rot-copy")))

	// Rebuild works on sealed segments: with the index gone, index
	// rebuild recreates it from the segments alone, and a restore from
	// the rebuilt index has every record.
	if err := os.RemoveAll(filepath.Join(dir, "rot", "snapshots", "v1", "rot", "index.d")); err != nil {
		t.Fatal(err)
	}
	if r := kbackup(t, "index", "rebuild", "rot", "--storage", dir); r.code == 0 || !strings.Contains(r.stderr, "--encryption-key") {
		t.Errorf("index rebuild without the key: exit %d: %s", r.code, r.stderr)
	}
	if r := kbackup(t, "index", "rebuild", "rot", "--storage", dir, "--encryption-key", newKEK); r.code != 0 {
		t.Fatalf("index rebuild with the key: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if n := encryptedCount(t, dir, newKEK, "rot"); n != 350 {
		t.Fatalf("the rebuilt index counts %d records, want 350", n)
	}
	if r := kbackup(t, "restore", "--brokers", c.Addr(), "--storage", dir, "--encryption-key", newKEK, "--topic", "rot:rot-rebuilt", "--create-topics"); r.code != 0 {
		t.Fatalf("restore from the rebuilt index: exit %d: %s", r.code, r.stderr)
	}
	sameRecords(t, "rot-rebuilt", content(want), content(kcatRead(t, c.Addr(), "rot-rebuilt")))
	grepStorage(t, dir, "rot-copy", "rot-rebuilt")
}
