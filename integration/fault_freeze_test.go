package integration

import (
	"context"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// TestFaultFreezeDaemonPastItsLease is issue 9's freeze: a daemon holding
// unflushed records is stopped (SIGSTOP) past its lease TTL, a second
// daemon takes the topic over and stores more, and when the first resumes
// (SIGCONT) it writes nothing and stops with the lease error. Storage then
// holds every record exactly once, no unindexed segment, and verifies
// clean. It runs on file storage and on S3 (whose uploads, unlike file
// storage's temporary files, nobody else can remove while the daemon is
// frozen).
func TestFaultFreezeDaemonPastItsLease(t *testing.T) {
	t.Run("file", func(t *testing.T) { freezeDaemon(t, t.TempDir()) })
	t.Run("S3", func(t *testing.T) {
		srv := storetest.StartS3(t)
		freezeDaemon(t, storetest.S3URL(t, srv.Host, "&prefix=frozen/"))
	})
}

func freezeDaemon(t *testing.T, dir string) {
	needKcat(t)
	c := startCluster(t)
	const topic = "frozen"
	createTopic(t, c.Addr(), topic, 2, nil)
	args := []string{"backup", "--brokers", c.Addr(), "--storage", dir, "--topic", topic, "--lease-ttl", "4s", "--discovery-interval", "300ms"}
	first, firstLogs := startKbackup(t, append(args, "--segment-age", "1h")...)
	waitFor(t, 20*time.Second, "the first daemon holds the lease", func() bool { return leaseHolder(t, dir, topic) == first.Process.Pid })
	produceN(t, c.Addr(), topic, 2, 0, 200)
	time.Sleep(time.Second) // consumed into open segments, never rolled
	if n := storedCount(t, dir, topic, 0); n != 0 {
		t.Fatalf("the first daemon stored %d records: the test needs them unflushed", n)
	}
	if err := first.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4*time.Second + 1500*time.Millisecond)

	second, secondLogs := startKbackup(t, append(args, "--segment-age", "300ms")...)
	waitFor(t, 20*time.Second, "the second daemon takes the lease over", func() bool { return leaseHolder(t, dir, topic) == second.Process.Pid })
	produceN(t, c.Addr(), topic, 2, 200, 100)
	waitFor(t, 20*time.Second, "the second daemon stores every record", func() bool { return storedCount(t, dir, topic, 0) == 300 })
	before := storageState(t, dir)

	if err := first.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the resumed daemon did not stop:\n%s", firstLogs)
	}
	if code := first.ProcessState.ExitCode(); code != 3 || !strings.Contains(firstLogs.String(), "lease lost") {
		t.Fatalf("resumed daemon: exit %d, want 3 and the lease error:\n%s", code, firstLogs)
	}
	if after := storageState(t, dir); after != before {
		t.Fatalf("storage changed after the frozen daemon resumed:\nbefore:\n%s\nafter:\n%s\nits log:\n%s", before, after, firstLogs)
	}

	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("second daemon: %v\n%s", err, secondLogs)
	}
	sameRecords(t, topic, kcatRead(t, c.Addr(), topic), storageRead(t, dir, topic, 0))
	noOrphans(t, dir, topic)
	if r := kbackup(t, "verify", "--storage", dir, topic); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// leaseHolder returns the PID in the holder of topic's lease ("host:pid"),
// or 0 when it is free.
func leaseHolder(t *testing.T, dir, topic string) int {
	t.Helper()
	st := openStorage(t, dir)
	defer st.Close()
	l, err := st.ReadLease(context.Background(), topic)
	if store.IsNotFound(err) || err == nil && l.Released {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	_, pid, _ := strings.Cut(l.Holder, ":")
	n, _ := strconv.Atoi(pid)
	return n
}

// storageState lists every object in the storage at url (a directory or
// a URL) with its size and modification time, except the lease register
// and the storage clock, which a live holder keeps writing.
func storageState(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	if !strings.Contains(url, "://") {
		url = "file://" + url + "?metadata=skip"
	}
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var sb strings.Builder
	it := b.List(nil)
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(o.Key, "__lease.d") || strings.HasSuffix(o.Key, "__time") {
			continue
		}
		sb.WriteString(o.Key + " " + strconv.FormatInt(o.Size, 10) + " " + o.ModTime.Format(time.RFC3339Nano) + "\n")
	}
	return sb.String()
}

// noOrphans fails the test if a segment object of topic's active version is
// not indexed.
func noOrphans(t *testing.T, dir, topic string) {
	t.Helper()
	ctx := context.Background()
	st := openStorage(t, dir)
	defer st.Close()
	m, err := st.ReadManifest(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Snapshots {
		loc := store.Loc{Topic: topic, Version: s.Version}
		ix, err := st.ReadIndex(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		listed, err := st.ListSegments(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		ref := ix.Referenced()
		for id := range listed {
			if !ref[id] {
				t.Errorf("%s: segment %s is in storage but not indexed", loc, id)
			}
		}
	}
}
