package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/store"
)

// TestGroupOffsetsBackedUp: a franz-go group consumer reads part of a topic
// and commits; `kbackup backup --once` captures the group; `kbackup
// describe` names it and the mount's groups/<group>.jsonl holds exactly
// the offsets Kafka reports as committed (kadm), with the log end.
func TestGroupOffsetsBackedUp(t *testing.T) {
	c := startCluster(t)
	addr := c.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createTopic(t, addr, "orders", 3, nil)
	var rs []*kgo.Record
	for i := range 60 {
		rs = append(rs, &kgo.Record{Topic: "orders", Partition: int32(i % 3), Value: []byte(fmt.Sprint(i))})
	}
	if err := client(t, addr).ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	consume := func(group string, n int) {
		t.Helper()
		cl := client(t, addr, kgo.ConsumerGroup(group), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got []*kgo.Record
		for len(got) < n {
			fs := cl.PollRecords(ctx, n-len(got))
			if err := fs.Err0(); err != nil {
				t.Fatalf("%s: poll: %v", group, err)
			}
			got = append(got, fs.Records()...)
		}
		if err := cl.CommitRecords(ctx, got...); err != nil {
			t.Fatalf("%s: commit: %v", group, err)
		}
		cl.Close() // leaves the group
	}
	consume("readers", 25)
	consume("skipped", 10)

	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", addr, "--storage", dir, "--exclude-group", "skip.*"); r.code != 0 {
		t.Fatalf("backup exit %d: %s", r.code, r.stderr)
	}
	// Kafka's own answer, independent of kbackup.
	committed, err := kadm.NewClient(client(t, addr)).FetchOffsets(ctx, "readers")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	committed.Each(func(o kadm.OffsetResponse) { want[o.Partition] = o.At })
	if len(want) == 0 {
		t.Fatal("kadm reports no offsets committed by readers")
	}

	r := kbackup(t, "describe", "--storage", dir, "-o", "json", "orders")
	if r.code != 0 {
		t.Fatalf("describe exit %d: %s", r.code, r.stderr)
	}
	var desc struct {
		Topics []struct {
			Snapshots []struct {
				Groups *struct {
					Captures int
					Groups   []struct {
						Group      string
						Partitions int
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &desc); err != nil {
		t.Fatalf("describe output %q: %v", r.stdout, err)
	}
	g := desc.Topics[0].Snapshots[0].Groups
	if g == nil || g.Captures != 1 || len(g.Groups) != 1 || g.Groups[0].Group != "readers" || g.Groups[0].Partitions != len(want) {
		t.Fatalf("describe shows groups %+v; want one capture of readers on %d partitions", g, len(want))
	}
	if r := kbackup(t, "describe", "--storage", dir, "orders"); !strings.Contains(r.stdout, "readers") {
		t.Fatalf("describe text does not name the group:\n%s", r.stdout)
	}
	if r := kbackup(t, "verify", "--storage", dir); r.code != 0 {
		t.Fatalf("verify exit %d: %s%s", r.code, r.stdout, r.stderr)
	}

	mp := mountKbackup(t, dir)
	gdir := filepath.Join(mp, "topics", "orders", "latest", "groups")
	if got := shell(t, "ls "+gdir); got != "readers.jsonl\n" {
		t.Fatalf("ls groups = %q, want readers.jsonl only (skipped is excluded)", got)
	}
	file := filepath.Join(gdir, "readers.jsonl")
	b := []byte(shell(t, "cat "+file))
	if fi, err := os.Stat(file); err != nil || fi.Size() != int64(len(b)) {
		t.Fatalf("stat size %v (%v), cat read %d bytes", fi, err, len(b))
	}
	got := map[int32]int64{}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var line struct {
			Group     string
			Partition int32
			Offset    int64
			LogEnd    int64 `json:"log_end"`
			Lag       int64
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if line.Group != "readers" || line.LogEnd != 20 || line.Lag != 20-line.Offset {
			t.Errorf("line %s: want group readers, log end 20, lag = 20 - offset", l)
		}
		got[line.Partition] = line.Offset
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("mount shows offsets %v, Kafka reports %v committed", got, want)
	}
}

// TestGroupCaptureDaemonMetrics: the daemon captures on --group-interval,
// a later commit shows in a later capture, /metrics counts the captures,
// and SIGTERM still exits 0.
func TestGroupCaptureDaemonMetrics(t *testing.T) {
	c := startCluster(t)
	addr := c.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createTopic(t, addr, "live", 1, nil)
	if err := client(t, addr).ProduceSync(ctx, &kgo.Record{Topic: "live", Value: []byte("x")}, &kgo.Record{Topic: "live", Value: []byte("y")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(client(t, addr))
	commit := func(at int64) {
		t.Helper()
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: "live", Partition: 0, At: at, LeaderEpoch: -1})
		if _, err := adm.CommitOffsets(ctx, "app", os); err != nil {
			t.Fatal(err)
		}
	}
	commit(1)
	dir := t.TempDir()
	maddr := freeAddr(t)
	d, logs := startKbackup(t, "backup", "--brokers", addr, "--storage", dir, "--group-interval", "1s", "--discovery-interval", "300ms",
		"--metrics-addr", maddr)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs)
		}
	})
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	newest := func() int64 {
		m, err := st.ReadManifest(ctx, "live")
		if err != nil {
			return -1
		}
		gc, err := st.GroupCaptureAt(ctx, store.Loc{Topic: "live", Version: m.Active}, time.Time{})
		if err != nil || len(gc.Offsets) != 1 {
			return -1
		}
		return gc.Offsets[0].Offset
	}
	waitFor(t, 30*time.Second, "a capture of app at 1", func() bool { return newest() == 1 })
	commit(2)
	waitFor(t, 30*time.Second, "a capture of app at 2", func() bool { return newest() == 2 })
	s := scrapeMetrics(t, "http://"+maddr)
	if n := s.values("kbackup_backup_group_captures_total", nil)[""]; n < 2 {
		t.Errorf("kbackup_backup_group_captures_total = %v, want at least 2", n)
	}
	if n := s.values("kbackup_backup_group_capture_failures_total", nil)[""]; n != 0 {
		t.Errorf("kbackup_backup_group_capture_failures_total = %v, want 0", n)
	}
	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Fatalf("daemon did not exit 0 on SIGTERM: %v", err)
	}
}

// TestGroupsCaptureToRestore follows one consumer group end to end: it
// has committed part way through a topic, at its end and at its start; `backup --once`
// captures it, and `restore --groups` into a target that already holds
// other records commits it under a new name. Kafka (kadm) must then report
// the committed offset that points, in the target, at the very record the
// group would have read next in the source (checked with kcat), and a
// consumer of the group on the target must receive exactly the records the
// group had left in the source: none skipped, none read twice.
func TestGroupsCaptureToRestore(t *testing.T) {
	needKcat(t)
	c := startCluster(t)
	addr := c.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createTopic(t, addr, "pay", 3, nil)
	var rs []*kgo.Record
	for i := range 300 {
		rs = append(rs, &kgo.Record{Topic: "pay", Partition: int32(i % 3), Value: []byte(fmt.Sprint("pay-", i))})
	}
	if err := client(t, addr).ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// The group's commits: part way, at the end, and at the start.
	adm := kadm.NewClient(client(t, addr))
	var os kadm.Offsets
	for p, at := range []int64{37, 100, 0} {
		os.Add(kadm.Offset{Topic: "pay", Partition: int32(p), At: at, LeaderEpoch: -1})
	}
	if _, err := adm.CommitOffsets(ctx, "billing", os); err != nil {
		t.Fatal(err)
	}
	committed, err := adm.FetchOffsets(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	src := map[int32]int64{}
	committed.Each(func(o kadm.OffsetResponse) { src[o.Partition] = o.At })

	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", addr, "--storage", dir, "--topic", "pay", "--group", "billing"); r.code != 0 {
		t.Fatalf("backup exit %d: %s", r.code, r.stderr)
	}
	const noise = 7
	createTopic(t, addr, "pay-dr", 3, nil)
	var pre []*kgo.Record
	for p := int32(0); p < 3; p++ {
		for i := range noise {
			pre = append(pre, &kgo.Record{Topic: "pay-dr", Partition: p, Value: []byte(fmt.Sprint("noise-", i))})
		}
	}
	if err := client(t, addr).ProduceSync(ctx, pre...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if r := kbackup(t, "restore", "--brokers", addr, "--storage", dir, "--topic", "pay:pay-dr", "--allow-nonempty",
		"--retention", "extend", "--groups", "billing:billing-dr", "--state-dir", t.TempDir()); r.code != 0 {
		t.Fatalf("restore exit %d: %s", r.code, r.stderr)
	}
	restored, err := adm.FetchOffsets(ctx, "billing-dr")
	if err != nil {
		t.Fatal(err)
	}
	dst := map[int32]int64{}
	restored.Each(func(o kadm.OffsetResponse) {
		if o.Topic == "pay-dr" {
			dst[o.Partition] = o.At
		}
	})
	srcRecs, dstRecs := kcatRead(t, addr, "pay"), kcatRead(t, addr, "pay-dr")
	for p := int32(0); p < 3; p++ {
		c, ok := src[p]
		if !ok {
			t.Fatalf("billing committed nothing on partition %d: %v", p, src)
		}
		if dst[p] != c+noise {
			t.Errorf("partition %d: billing committed %d in the source; billing-dr has %d in the target, want %d", p, c, dst[p], c+noise)
			continue
		}
		if c < int64(len(srcRecs[p])) {
			next, at := srcRecs[p][c], dstRecs[p][dst[p]]
			if *next.Value != *at.Value {
				t.Errorf("partition %d: the next record is %s in the source and %s in the target", p, next, at)
			}
		}
	}

	// A consumer of the restored group on the target receives exactly what
	// the group had not processed in the source: no skip, no repeat.
	wantRest := map[int32][]string{}
	n := 0
	for p, rs := range srcRecs {
		for _, r := range rs[src[p]:] {
			wantRest[p] = append(wantRest[p], *r.Value)
			n++
		}
	}
	dr := client(t, addr, kgo.ConsumerGroup("billing-dr"), kgo.ConsumeTopics("pay-dr"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())) // a reset would read the noise: it must not happen
	gotRest := map[int32][]string{}
	for got := 0; got < n; {
		fs := dr.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("billing-dr on the target: poll after %d of %d records: %v", got, n, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			gotRest[r.Partition] = append(gotRest[r.Partition], string(r.Value))
			got++
		})
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	dr.PollFetches(short).EachRecord(func(r *kgo.Record) {
		gotRest[r.Partition] = append(gotRest[r.Partition], string(r.Value))
	})
	cancelShort()
	for p := int32(0); p < 3; p++ {
		if !slices.Equal(gotRest[p], wantRest[p]) {
			t.Errorf("partition %d: billing-dr received %d records %.80v, want the %d the group had left in the source %.80v",
				p, len(gotRest[p]), gotRest[p], len(wantRest[p]), wantRest[p])
		}
	}
}
