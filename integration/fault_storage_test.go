package integration

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// Issue 9's slow and failing storage: the daemon backs up through a
// storetest.FaultProxy in front of the S3 emulator. Whatever the proxy
// does, the daemon keeps its lease or stops with the lease error, no write
// of its reaches the proxy after its lease's local deadline, and afterwards
// the backup verifies clean and restores, compared record by record with
// kcat, to exactly the source.

// leaseMargin is store's safety margin for a lease of ttl (store/lease.go):
// a holder writes nothing once ttl minus the margin has passed since it
// sent its last successful renewal.
func leaseMargin(ttl time.Duration) time.Duration {
	return min(max(ttl/4, 2*time.Second), ttl/2)
}

// writeSlack is how late after its lease's local deadline a write may
// arrive at the proxy: the holder checks the deadline before it sends, and
// the request needs a moment to get there on a busy machine. The margin
// (2 s or more) is what keeps such a write clear of a takeover.
const writeSlack = 500 * time.Millisecond

// checkFencedWrites fails the test unless every write the proxy received
// (PUT, POST, DELETE, whether or not it was failed or forwarded) arrived
// while the lease of its sender was valid: within ttl minus the margin of
// the arrival of a lease entry the storage accepted, sent earlier. Writes
// of the lease register itself and of the storage clock (__time) are the
// lease's own and exempt.
func checkFencedWrites(t *testing.T, reqs []storetest.Request, ttl time.Duration) (writes int) {
	t.Helper()
	var renewed time.Time
	for _, r := range reqs {
		switch {
		case !r.IsWrite() || strings.HasSuffix(r.Path, "/__time"):
		case strings.Contains(r.Path, "/__lease.d/"):
			if r.Method == http.MethodPut && r.Status == http.StatusOK {
				renewed = r.Arrived
			}
		default:
			writes++
			if renewed.IsZero() {
				t.Errorf("%s %s arrived before any lease was taken", r.Method, r.Path)
			} else if late := r.Arrived.Sub(renewed.Add(ttl - leaseMargin(ttl))); late > writeSlack {
				t.Errorf("%s %s arrived %s after the lease's local deadline (last renewal at %s)",
					r.Method, r.Path, late.Round(time.Millisecond), renewed.Format("15:04:05.000"))
			}
		}
	}
	return writes
}

// logOnFailure prints a daemon's log if the test fails.
func logOnFailure(t *testing.T, name string, logs fmt.Stringer) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log:\n%s", name, logs)
		}
	})
}

// daemon is a kbackup process running in the background.
type daemon struct {
	cmd    *exec.Cmd
	logs   *storetest.SyncBuffer
	exited chan struct{} // closed when it exited
}

// startDaemon starts kbackup with args; its log is printed if the test
// fails.
func startDaemon(t *testing.T, name string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(binary, args...)
	logs := &storetest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, logs: logs, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.exited
	})
	logOnFailure(t, name, logs)
	return d
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// wait waits up to timeout for the daemon to exit and returns its exit
// code, or fails the test.
func (d *daemon) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-d.exited:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("the daemon did not stop within %s", timeout)
		return -1
	}
}

// stop sends SIGTERM and returns the exit code.
func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	return d.wait(t, 60*time.Second)
}

// startTakeover starts daemons with args until one takes topic's lease
// over: a daemon started while the lease is held exits with the lease
// error.
func startTakeover(t *testing.T, url, topic string, args []string) *daemon {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := startDaemon(t, "taking-over daemon", args...)
		for {
			if leaseHolder(t, url, topic) == d.pid() {
				return d
			}
			select {
			case <-d.exited:
			case <-time.After(200 * time.Millisecond):
				continue
			}
			break
		}
		if code := d.cmd.ProcessState.ExitCode(); code != 3 || time.Now().After(deadline) {
			t.Fatalf("daemon taking over: exit %d:\n%s", code, d.logs)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// restoreEquals restores topic from url into a new topic and fails the
// test unless kcat reads the same records from both, and verify is clean.
func restoreEquals(t *testing.T, addr, url, topic string) {
	t.Helper()
	if r := kbackup(t, "verify", "--storage", url, topic); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	target := topic + "-restored"
	if r := kbackup(t, "restore", "--brokers", addr, "--storage", url, "--topic", topic+":"+target, "--create-topics", "--retention", "extend"); r.code != 0 {
		t.Fatalf("restore: exit %d: %s", r.code, r.stderr)
	}
	sameRecords(t, "restored topic", kcatRead(t, addr, topic), kcatRead(t, addr, target))
}

// readState is what readers see of topic's backup at url: every object
// but register entries (lease, manifest, index heads: an entry below the
// newest is never read), the active index's segments, and the records.
func readState(t *testing.T, url, topic string) string {
	t.Helper()
	var sb strings.Builder
	for _, l := range strings.Split(storageState(t, url), "\n") {
		if !strings.Contains(l, "/index.d/heads/") && !strings.Contains(l, "/manifest.d/") {
			sb.WriteString(l + "\n")
		}
	}
	st := openStorage(t, url)
	defer st.Close()
	m := readManifest(t, url, topic)
	ix, err := st.ReadIndex(context.Background(), store.Loc{Topic: topic, Version: m.Active})
	if err != nil {
		t.Fatal(err)
	}
	ids := slices.Sorted(maps.Keys(ix.Referenced()))
	fmt.Fprintf(&sb, "manifest: active v%d, %d versions\nindexed: %v\n", m.Active, len(m.Snapshots), ids)
	recs := storageRead(t, url, topic, 0)
	for _, p := range slices.Sorted(maps.Keys(recs)) {
		fmt.Fprintf(&sb, "partition %d: %d records, last %v\n", p, len(recs[p]), recs[p][len(recs[p])-1])
	}
	return sb.String()
}

// soak reports whether the long variants run (KBACKUP_SOAK=1, make soak).
func soak() bool { return os.Getenv("KBACKUP_SOAK") != "" }

// storedOrNone is storedCount, or 0 before the topic's manifest exists.
func storedOrNone(t *testing.T, url, topic string) int {
	t.Helper()
	if readManifest(t, url, topic) == nil {
		return 0
	}
	return storedCount(t, url, topic, 0)
}

// TestFaultSlowStorage adds a fixed latency to every storage request. The
// issue's case is 10 s against the default 2 min TTL; the test keeps the
// ratio harsher and the run short instead: 1 s against an 8 s TTL (a
// renewal every 2 s, a local deadline 6 s after each), so that every
// renewal, head write and upload takes a large share of the lease's life.
// make soak uses 3 s against 24 s. The daemon must keep its lease (or stop
// with the lease error, exit 3) and never write past its deadline.
func TestFaultSlowStorage(t *testing.T) {
	needKcat(t)
	latency, ttl := time.Second, 8*time.Second
	if soak() {
		latency, ttl = 3*time.Second, 24*time.Second
	}
	srv := storetest.StartS3(t)
	proxy := storetest.StartFaultProxy(t, srv.Host)
	proxy.SetLatency(latency)
	direct := storetest.S3URL(t, srv.Host, "&prefix=slow/")
	slow := storetest.S3URL(t, proxy.Host, "&prefix=slow/")
	c := startCluster(t)
	const topic = "slow"
	createTopic(t, c.Addr(), topic, 3, nil)

	d := startDaemon(t, "daemon", "backup", "--brokers", c.Addr(), "--storage", slow, "--topic", topic,
		"--lease-ttl", ttl.String(), "--segment-age", "500ms", "--discovery-interval", "1s")
	produceVaried(t, c.Addr(), topic, 3, 300)
	waitFor(t, 60*latency, "300 records stored through the slow proxy", func() bool { return storedOrNone(t, direct, topic) == 300 })
	holder := leaseHolder(t, direct, topic)
	time.Sleep(ttl) // four renewals at this latency
	if h := leaseHolder(t, direct, topic); h != holder || h != d.pid() {
		t.Fatalf("lease holder changed from %d to %d (daemon %d)", holder, h, d.pid())
	}
	code := d.stop(t)
	if code != 0 && (code != 3 || !strings.Contains(d.logs.String(), "lease lost")) {
		t.Fatalf("daemon: exit %d, want 0 or the lease error (3)", code)
	}
	n := checkFencedWrites(t, proxy.Requests(), ttl)
	t.Logf("exit %d; %d requests, %d fenced writes at %s latency", code, len(proxy.Requests()), n, latency)
	restoreEquals(t, c.Addr(), direct, topic)
}

// TestFaultStalledWriteAfterTakeover stalls one index head write of a
// daemon at the proxy, then cuts the daemon off from storage (every request
// answered 503) until its lease's local deadline passes, while a second
// daemon, talking to storage directly, takes the topic over and stores the
// records the first held. The stalled write is then delivered to the
// emulator, late, as a network may: the storage must refuse it (its head
// entry is a create-if-absent the new holder got to first), the first
// daemon must stop with the lease error having sent nothing after its
// deadline, and storage must not change.
func TestFaultStalledWriteAfterTakeover(t *testing.T) {
	needKcat(t)
	const ttl = 4 * time.Second
	srv := storetest.StartS3(t)
	proxy := storetest.StartFaultProxy(t, srv.Host)
	direct := storetest.S3URL(t, srv.Host, "&prefix=stall/")
	proxied := storetest.S3URL(t, proxy.Host, "&prefix=stall/")
	c := startCluster(t)
	const topic = "stalled"
	createTopic(t, c.Addr(), topic, 2, nil)
	args := []string{"backup", "--brokers", c.Addr(), "--topic", topic, "--lease-ttl", ttl.String(),
		"--segment-age", "300ms", "--discovery-interval", "300ms"}

	first := startDaemon(t, "first daemon", append(args, "--storage", proxied)...)
	produceN(t, c.Addr(), topic, 2, 0, 100)
	waitFor(t, 30*time.Second, "the first daemon stores 100 records", func() bool { return storedOrNone(t, direct, topic) == 100 })
	stall := proxy.Stall(func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/index.d/heads/")
	})
	produceN(t, c.Addr(), topic, 2, 100, 100)
	select {
	case <-stall.Caught():
	case <-time.After(30 * time.Second):
		t.Fatal("no index head write reached the proxy")
	}
	proxy.SetFaults(1) // the first daemon's storage is gone

	second := startTakeover(t, direct, topic, append(args, "--storage", direct))
	produceN(t, c.Addr(), topic, 2, 200, 100)
	waitFor(t, 30*time.Second, "the second daemon stores every record", func() bool { return storedOrNone(t, direct, topic) == 300 })

	if code := first.wait(t, 30*time.Second); code != 3 || !strings.Contains(first.logs.String(), "lease lost") {
		t.Fatalf("first daemon: exit %d, want 3 and the lease error", code)
	}
	if code := second.stop(t); code != 0 {
		t.Fatalf("second daemon: exit %d", code)
	}
	before := readState(t, direct, topic)
	stall.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	late, gaveUp, err := stall.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The storage refuses the late head entry if its key exists (412). The
	// new holder may have pruned that entry already, as every register
	// writer prunes its older entries: then it lands, below the newest
	// entry, where no reader looks. Either way the backup as read is the
	// same, and no other object changed.
	if late.Status != http.StatusPreconditionFailed && late.Status != http.StatusOK {
		t.Errorf("the late head write %s got %d from the storage", late.Path, late.Status)
	}
	if after := readState(t, direct, topic); after != before {
		t.Fatalf("the backup changed when the stalled write landed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	checkFencedWrites(t, proxy.Requests(), ttl)
	noOrphans(t, direct, topic)
	t.Logf("late head write %s: %d (its client had given up: %t)", late.Path, late.Status, gaveUp)
	restoreEquals(t, c.Addr(), direct, topic)
}

// TestFault503Storm fails a share of storage requests with 503 for a
// while (30% for 6 s, then all of them for 3 s, less than the 6 s the lease
// lasts past a renewal), as a throttling or failing service does, while
// records flow. The daemon must carry on: a write whose retries are spent
// restarts its topic from storage (engine/backup restart.go). It may only
// stop with the lease error; afterwards nothing is lost, duplicated or
// corrupt.
func TestFault503Storm(t *testing.T) {
	needKcat(t)
	const ttl = 8 * time.Second
	storm := 6 * time.Second
	if soak() {
		storm = 60 * time.Second
	}
	srv := storetest.StartS3(t)
	proxy := storetest.StartFaultProxy(t, srv.Host)
	direct := storetest.S3URL(t, srv.Host, "&prefix=storm/")
	proxied := storetest.S3URL(t, proxy.Host, "&prefix=storm/")
	c := startCluster(t)
	const topic = "storm"
	createTopic(t, c.Addr(), topic, 3, nil)
	d := startDaemon(t, "daemon", "backup", "--brokers", c.Addr(), "--storage", proxied, "--topic", topic,
		"--lease-ttl", ttl.String(), "--segment-age", "200ms", "--discovery-interval", "300ms")
	waitFor(t, 30*time.Second, "the daemon takes the lease", func() bool { return leaseHolder(t, direct, topic) == d.pid() })

	proxy.SetFaults(0.3)
	for i := 0; i < int(storm/(500*time.Millisecond)); i++ {
		produceN(t, c.Addr(), topic, 3, i*30, 30)
		time.Sleep(500 * time.Millisecond)
	}
	proxy.SetFaults(1)
	time.Sleep(3 * time.Second)
	proxy.SetFaults(0)
	faults, total := proxy.Faults()
	want := 0
	for _, rs := range kcatRead(t, c.Addr(), topic) {
		want += len(rs)
	}
	stored := func() bool { return storedOrNone(t, direct, topic) == want }
	for deadline := time.Now().Add(60 * time.Second); !stored() && time.Now().Before(deadline); {
		select {
		case <-d.exited:
			deadline = time.Now()
		case <-time.After(200 * time.Millisecond):
		}
	}
	code := d.stop(t)
	// It carries on (0) or stops with the lease error (3), a clean stop
	// which the checks below hold to nothing lost, duplicated or orphaned.
	switch {
	case code == 0:
	case code == 3 && strings.Contains(d.logs.String(), "lease lost"):
	default:
		t.Fatalf("daemon: exit %d, want 0 or the lease error (3)", code)
	}
	restarts := strings.Count(d.logs.String(), "storage write failed")
	checkFencedWrites(t, proxy.Requests(), ttl)
	if code == 0 && !stored() {
		t.Fatalf("the daemon carried on but stored %d of %d records", storedCount(t, direct, topic, 0), want)
	}
	if code != 0 {
		// It stopped: a new run, once the lease is free, catches up.
		waitFor(t, 2*ttl, "a catch-up run", func() bool {
			return kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", direct, "--topic", topic).code == 0
		})
	}
	noOrphans(t, direct, topic)
	t.Logf("exit %d; %d of %d requests failed with 503; %d topic restarts", code, faults, total, restarts)
	restoreEquals(t, c.Addr(), direct, topic)
}
