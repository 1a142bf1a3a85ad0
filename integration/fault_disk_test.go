package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFaultFullDisk is issue 9's full disk: file storage on a small tmpfs,
// with a filler file leaving room for about a third of the topic. The
// backup fails with a clear one-line error naming the full disk, what it
// stored verifies clean, and once the filler is deleted the next backup
// resumes where the last committed segment ends: storage and a restore
// then hold every record exactly once.
func TestFaultFullDisk(t *testing.T) {
	needKcat(t)
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("SKIPPED: cannot mount a tmpfs on %s (%v): the full-disk test needs root", mnt, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	c := startCluster(t)
	const topic = "full"
	createTopic(t, c.Addr(), topic, 2, nil)
	// 600 records of 8 KiB of hex text, stored uncompressed: about 5 MiB.
	var rs []*kgo.Record
	for i := range 600 {
		v := make([]byte, 4096)
		_, _ = rand.Read(v)
		rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Key: []byte(fmt.Sprint(i)), Value: []byte(hex.EncodeToString(v))})
	}
	if err := client(t, c.Addr(), kgo.ProducerBatchMaxBytes(1<<20)).ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want := kcatRead(t, c.Addr(), topic)

	var fs syscall.Statfs_t
	if err := syscall.Statfs(mnt, &fs); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, int64(fs.Bavail)*fs.Bsize-2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "backup")
	args := []string{"backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--topic", topic,
		"--compression", "none", "--segment-bytes", "256KiB"}
	r := kbackup(t, args...)
	if r.code == 0 {
		t.Fatal("the backup succeeded on a full disk: the test proves nothing")
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1] // the lines before it are the log
	if !strings.HasPrefix(last, "kbackup: ") || !strings.Contains(last, "no space left on device") {
		t.Fatalf("backup on a full disk: exit %d, want a last line naming the full disk:\n%s", r.code, r.stderr)
	}
	stored := storedCount(t, dir, topic, 0)
	if stored == 0 || stored == 600 {
		t.Fatalf("%d records stored before the disk filled: the test needs some", stored)
	}
	if v := kbackup(t, "verify", "--storage", dir, topic); v.code != 0 {
		t.Fatalf("verify after the full disk: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if r := kbackup(t, args...); r.code != 0 {
		t.Fatalf("backup after space was freed: exit %d: %s", r.code, r.stderr)
	}
	sameRecords(t, "storage after the disk was freed", want, storageRead(t, dir, topic, 0))
	noOrphans(t, dir, topic)
	t.Logf("%d of 600 records stored before the disk filled; the error: %s", stored, last)
	restoreEquals(t, c.Addr(), dir, topic)
}
