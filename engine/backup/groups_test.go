package backup

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
	fixture "github.com/kbackup/kbackup/store/storetest"
)

// consumeAndCommit runs a franz-go group consumer of topic in group until
// it has read n records, commits them, leaves the group and returns what
// the group committed: the offset after the last record read per partition.
func consumeAndCommit(t testing.TB, addr, group, topic string, n int) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollRecords(ctx, n-len(recs))
		if err := fs.Err0(); err != nil {
			t.Fatalf("group %s: poll: %v", group, err)
		}
		recs = append(recs, fs.Records()...)
	}
	if err := cl.CommitRecords(ctx, recs...); err != nil {
		t.Fatalf("group %s: commit: %v", group, err)
	}
	want := map[int32]int64{}
	for _, r := range recs {
		want[r.Partition] = max(want[r.Partition], r.Offset+1)
	}
	return want
}

// committedOffsets asks Kafka (kadm, independently of the code under test)
// what group committed on topic.
func committedOffsets(t testing.TB, addr, group, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	os, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	os.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out
}

// captureOffsets returns, per group and partition, the offsets of a capture.
func captureOffsets(c *store.GroupCapture) map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	for _, o := range c.Offsets {
		if out[o.Group] == nil {
			out[o.Group] = map[int32]int64{}
		}
		out[o.Group][o.Partition] = o.Offset
	}
	return out
}

func activeLoc(t testing.TB, st *store.Store, topic string) store.Loc {
	t.Helper()
	m, err := st.ReadManifest(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return store.Loc{Topic: topic, Version: m.Active}
}

func TestGroupCaptureOnce(t *testing.T) {
	c := testCluster(t, "orders", 3, 30)
	addr := c.Addr()
	ctx := context.Background()
	// A second topic not backed up: offsets on it are not captured.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "other"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "other", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	readers := consumeAndCommit(t, addr, "readers", "orders", 13)
	consumeAndCommit(t, addr, "skipped-1", "orders", 5)
	consumeAndCommit(t, addr, "elsewhere", "other", 1)
	// A group that commits without joining (kadm, with metadata).
	var manual kadm.Offsets
	manual.Add(kadm.Offset{Topic: "orders", Partition: 2, At: 7, LeaderEpoch: -1, Metadata: "by hand"})
	if _, err := adm.CommitOffsets(ctx, "manual", manual); err != nil {
		t.Fatal(err)
	}

	st := openTestStore(t)
	run := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := Run(ctx, st, &kafka.Config{Brokers: []string{addr}}, Options{Once: true, Holder: "test", Topics: []string{"orders"},
			ExcludeGroups: []string{"skipped-.*"}}); err != nil {
			t.Fatalf("backup: %v", err)
		}
	}
	run()
	loc := activeLoc(t, st, "orders")
	got, err := st.GroupCaptureAt(ctx, loc, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int32]int64{"readers": committedOffsets(t, addr, "readers", "orders"), "manual": {2: 7}}
	if fmt.Sprint(want["readers"]) != fmt.Sprint(readers) {
		t.Fatalf("kadm reports %v committed by readers, the consumer committed %v", want["readers"], readers)
	}
	if fmt.Sprint(captureOffsets(got)) != fmt.Sprint(want) {
		t.Fatalf("capture holds %v, want %v", captureOffsets(got), want)
	}
	for _, o := range got.Offsets {
		if o.LogStart != 0 || o.LogEnd != 10 {
			t.Errorf("%s/%d: log range [%d, %d) at capture, want [0, 10)", o.Group, o.Partition, o.LogStart, o.LogEnd)
		}
		if o.Group == "manual" && o.Metadata != "by hand" {
			t.Errorf("manual: metadata %q, want %q", o.Metadata, "by hand")
		}
	}

	// Nothing changed: no second capture. A new commit: a new capture.
	run()
	if refs, _ := st.GroupCaptures(ctx, loc); len(refs) != 1 {
		t.Fatalf("%d captures after an unchanged run, want 1", len(refs))
	}
	manual = kadm.Offsets{}
	manual.Add(kadm.Offset{Topic: "orders", Partition: 2, At: 9, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "manual", manual); err != nil {
		t.Fatal(err)
	}
	run()
	refs, _ := st.GroupCaptures(ctx, loc)
	if len(refs) != 2 {
		t.Fatalf("%d captures after a new commit, want 2", len(refs))
	}
	got, err = st.GroupCaptureAt(ctx, loc, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if o := captureOffsets(got)["manual"][2]; o != 9 {
		t.Fatalf("newest capture: manual at %d on partition 2, want 9", o)
	}
	// The earlier capture still answers for its time.
	old, err := st.GroupCaptureAt(ctx, loc, refs[0].Time)
	if err != nil || captureOffsets(old)["manual"][2] != 7 {
		t.Fatalf("capture as of %s: %v, %v; want manual at 7", refs[0].Time, old, err)
	}
}

// groupObs records the captures of a backup.
type groupObs struct {
	nopObserver
	mu   sync.Mutex
	errs []error
}

func (o *groupObs) GroupsCaptured(_, _ int, _ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errs = append(o.errs, err)
}

// TestGroupCaptureFailureKeepsBackingUp: a coordinator that fails every
// offset fetch costs the capture, reported to the observer, and nothing
// else: the data is backed up in full.
func TestGroupCaptureFailureKeepsBackingUp(t *testing.T) {
	c := testCluster(t, "orders", 2, 20)
	consumeAndCommit(t, c.Addr(), "readers", "orders", 4)
	c.Kfake().ControlKey(int16(kmsg.OffsetFetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake().KeepControl()
		req := kr.(*kmsg.OffsetFetchRequest)
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.Version = req.Version
		for _, g := range req.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group = g.Group
			rg.ErrorCode = kerr.UnknownServerError.Code
			resp.Groups = append(resp.Groups, rg)
		}
		resp.ErrorCode = kerr.UnknownServerError.Code
		return resp, nil, true
	})
	st := openTestStore(t)
	obs := &groupObs{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := Run(ctx, st, &kafka.Config{Brokers: []string{c.Addr()}}, Options{Once: true, Holder: "test", Observer: obs, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("backup with failing group coordinator: %v", err)
	}
	if sum.Records != 20 {
		t.Fatalf("backed up %d records, want 20", sum.Records)
	}
	if len(obs.errs) != 1 || obs.errs[0] == nil || !errors.Is(obs.errs[0], kerr.UnknownServerError) {
		t.Fatalf("observer saw captures ending with %v, want one failure with UNKNOWN_SERVER_ERROR", obs.errs)
	}
	if refs, err := st.GroupCaptures(ctx, activeLoc(t, st, "orders")); err != nil || len(refs) != 0 {
		t.Fatalf("%d captures stored (%v), want none", len(refs), err)
	}
}

// TestGroupCaptureDaemon: the daemon captures on its interval, a commit
// made while it runs shows up in a later capture.
func TestGroupCaptureDaemon(t *testing.T) {
	c := testCluster(t, "orders", 1, 10)
	addr := c.Addr()
	consumeAndCommit(t, addr, "readers", "orders", 3)
	st := openTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, st, &kafka.Config{Brokers: []string{addr}}, Options{Holder: "test", GroupInterval: 100 * time.Millisecond,
			Discovery: 100 * time.Millisecond, Logger: testLogger(t)})
		done <- err
	}()
	latest := func() int64 {
		m, err := st.ReadManifest(context.Background(), "orders")
		if err != nil {
			return -1
		}
		gc, err := st.GroupCaptureAt(context.Background(), store.Loc{Topic: "orders", Version: m.Active}, time.Time{})
		if err != nil {
			return -1
		}
		return captureOffsets(gc)["readers"][0]
	}
	waitUntil(t, "first capture", func() bool { return latest() == 3 })
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 8, LeaderEpoch: -1})
	if _, err := kadm.NewClient(cl).CommitOffsets(context.Background(), "readers", os); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "capture of the new commit", func() bool { return latest() == 8 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func openTestStore(t testing.TB) *store.Store {
	t.Helper()
	st := fixture.OpenTemp(t)
	return st
}

// TestRetentionPrunesGroupCaptures: a retention pass deletes the captures
// older than the policy but the newest of them, so that the offsets as of
// any time the policy keeps are unchanged; without a policy it keeps all.
func TestRetentionPrunesGroupCaptures(t *testing.T) {
	ctx := context.Background()
	st, _ := fixture.KnownStore(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	err := fixture.WithLease(ctx, st, "orders", func(l *store.Lease) error {
		for i := range 4 {
			c := store.GroupCapture{Time: t0.Add(time.Duration(i) * time.Hour), Offsets: []store.GroupOffset{{Group: "g", Partition: 0, Offset: int64(i)}}}
			if err := st.PutGroupCapture(ctx, l, v1, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(3*time.Hour + 30*time.Minute)
	asOf := func(at time.Time) int64 {
		c, err := st.GroupCaptureAt(ctx, v1, at)
		if err != nil {
			t.Fatal(err)
		}
		return c.Offsets[0].Offset
	}
	retain(t, st, "orders", 0, now) // (deletes the fixture's expired segment)
	refs, _ := st.GroupCaptures(ctx, v1)
	if len(refs) != 4 {
		t.Fatalf("%d captures left by a pass without a policy, want 4", len(refs))
	}
	res := retain(t, st, "orders", 90*time.Minute, now) // keeps from t0+2h
	var captures []string
	for _, k := range res.Deleted {
		if strings.Contains(k, "/groups/") {
			captures = append(captures, k)
		}
	}
	if want := []string{refs[0].Key()}; !reflect.DeepEqual(captures, want) {
		t.Fatalf("deleted captures %v, want only the oldest %v", captures, want)
	}
	for _, tt := range []struct {
		at   time.Duration
		want int64
	}{{2 * time.Hour, 2}, {2*time.Hour - time.Second, 1}, {90 * time.Minute, 1}, {4 * time.Hour, 3}} {
		if got := asOf(t0.Add(tt.at)); got != tt.want {
			t.Errorf("offsets as of t0+%s: %d, want %d", tt.at, got, tt.want)
		}
	}
}

// TestGroupCaptureManyCoordinators: with three brokers the groups are
// spread over three coordinators; one capture holds every group's offsets.
func TestGroupCaptureManyCoordinators(t *testing.T) {
	c, err := devcluster.Start(devcluster.Options{Brokers: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int32]int64{}
	coordinators := map[int32]bool{}
	for g := range 30 {
		name := fmt.Sprintf("group-%02d", g)
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: "orders", Partition: int32(g % 2), At: int64(g), LeaderEpoch: -1})
		if _, err := adm.CommitOffsets(ctx, name, os); err != nil {
			t.Fatal(err)
		}
		want[name] = map[int32]int64{int32(g % 2): int64(g)}
		dg, err := adm.DescribeGroups(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		coordinators[dg[name].Coordinator.NodeID] = true
	}
	if len(coordinators) < 2 {
		t.Fatalf("30 groups share %d coordinator(s): the test needs several", len(coordinators))
	}
	st := openTestStore(t)
	if _, err := Run(ctx, st, &kafka.Config{Brokers: []string{c.Addr()}}, Options{Once: true, Holder: "test"}); err != nil {
		t.Fatal(err)
	}
	got, err := st.GroupCaptureAt(ctx, activeLoc(t, st, "orders"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(captureOffsets(got)) != fmt.Sprint(want) {
		t.Fatalf("capture over %d coordinators holds %v, want %v", len(coordinators), captureOffsets(got), want)
	}
}

// TestGroupCaptureRecovers: a daemon whose first captures fail (the
// coordinator answers errors) keeps backing up and captures once the
// coordinator answers again.
func TestGroupCaptureRecovers(t *testing.T) {
	c := testCluster(t, "orders", 1, 10)
	addr := c.Addr()
	consumeAndCommit(t, addr, "readers", "orders", 4)
	var failures atomic.Int32
	c.Kfake().ControlKey(int16(kmsg.OffsetFetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake().KeepControl()
		if failures.Add(1) > 3 {
			return nil, nil, false // the coordinator answers again
		}
		req := kr.(*kmsg.OffsetFetchRequest)
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.Version = req.Version
		for _, g := range req.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, kerr.UnknownServerError.Code
			resp.Groups = append(resp.Groups, rg)
		}
		resp.ErrorCode = kerr.UnknownServerError.Code
		return resp, nil, true
	})
	st := openTestStore(t)
	obs := &groupObs{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, st, &kafka.Config{Brokers: []string{addr}}, Options{Holder: "test", GroupInterval: 100 * time.Millisecond,
			Observer: obs, Logger: testLogger(t)})
		done <- err
	}()
	waitUntil(t, "a capture after the failures", func() bool {
		m, err := st.ReadManifest(context.Background(), "orders")
		if err != nil {
			return false
		}
		gc, err := st.GroupCaptureAt(context.Background(), store.Loc{Topic: "orders", Version: m.Active}, time.Time{})
		return err == nil && captureOffsets(gc)["readers"][0] == 4
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.errs) < 2 || obs.errs[0] == nil {
		t.Fatalf("observer saw %v, want failures first, then a capture", obs.errs)
	}
}
