package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
)

// TestDaemonLosingALeaseWritesNothingMore: when another process takes a
// topic's lease over from a running daemon (here a live lease broken by an
// operator, the worst case: the daemon's own clock says it still holds
// it), the daemon's index writes fail at the storage, it stops backing the
// topic up with the lease error and goes on with its other topics. At most
// the segment it was uploading when it learned lands, unindexed; the next
// holder adopts it, so nothing is lost or duplicated. (A daemon whose lease
// expired, the normal way to lose it, writes nothing at all: see the freeze
// test in integration.)
func TestDaemonLosingALeaseWritesNothingMore(t *testing.T) {
	ctx := context.Background()
	c, err := devcluster.Start(devcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, topic := range []string{"kept", "taken"} {
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	produce := func(topic string, from, n int) {
		t.Helper()
		var rs []*kgo.Record
		for i := from; i < from+n; i++ {
			rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprint(i))})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := Run(dctx, st, &kafka.Config{Brokers: []string{c.Addr()}},
			Options{Discovery: 100 * time.Millisecond, SegmentAge: 100 * time.Millisecond, Holder: "daemon", Logger: testLogger(t)})
		done <- err
	}()
	records := func(topic string) int64 {
		ix, err := st.ReadIndex(ctx, store.Loc{Topic: topic, Version: 1})
		if err != nil {
			return -1
		}
		return ix.Partitions[0].Records
	}
	waitUntil(t, "both topics stored", func() bool {
		produce("kept", 0, 0)
		return records("kept") >= 0 && records("taken") >= 0
	})
	produce("kept", 0, 10)
	produce("taken", 0, 10)
	waitUntil(t, "the first records stored", func() bool { return records("kept") == 10 && records("taken") == 10 })

	// Another process takes "taken" over, as a second daemon would.
	other, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.BreakLease(ctx, "taken", "test"); err != nil {
		t.Fatal(err)
	}
	l, err := other.AcquireLease(ctx, "taken", "successor", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	if _, err := other.FenceManifest(ctx, l); err != nil {
		t.Fatal(err)
	}
	loc := store.Loc{Topic: "taken", Version: 1}
	if _, err := other.OpenIndexWriter(ctx, l, loc); err != nil {
		t.Fatal(err)
	}
	head, err := other.RawIndex(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := other.ListSegments(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}

	// Records keep coming to both topics.
	produce("taken", 10, 10)
	for i := 0; i < 10; i++ {
		produce("kept", 10+i, 1)
		time.Sleep(50 * time.Millisecond)
	}
	waitUntil(t, "the other topic goes on", func() bool { return records("kept") == 20 })
	time.Sleep(500 * time.Millisecond) // several segment ages
	if now, err := other.RawIndex(ctx, loc); err != nil || string(now) != string(head) {
		t.Fatalf("the index head changed after the takeover (%v):\n%s", err, now)
	}
	late, err := other.ListSegments(ctx, loc)
	if err != nil || len(late) > len(segs)+1 {
		t.Fatalf("segments after the takeover: %d, before: %d (%v); want at most the one in flight", len(late), len(segs), err)
	}
	produce("taken", 20, 10)
	time.Sleep(500 * time.Millisecond)
	stop()
	err = <-done
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("daemon ended with %v, want the lease error", err)
	}
	if now, _ := other.RawIndex(ctx, loc); string(now) != string(head) {
		t.Fatal("the daemon wrote the lost topic's index later or at shutdown")
	}
	if now, _ := other.ListSegments(ctx, loc); len(now) != len(late) {
		t.Fatal("the daemon wrote a segment of the lost topic after it stopped backing it up")
	}

	// The successor backs the topic up: every record exactly once.
	l.Release(ctx)
	if _, err := Run(ctx, other, &kafka.Config{Brokers: []string{c.Addr()}}, Options{Once: true, Topics: []string{"taken"}}); err != nil {
		t.Fatal(err)
	}
	ix, err := other.ReadIndex(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, e := range ix.Segments {
		sr, err := other.OpenSegment(ctx, loc, e.ULID, e.StoredBytes)
		if err != nil {
			t.Fatal(err)
		}
		if err := sr.Records(0, func(r *store.Record) error {
			if seen[r.Offset] || string(r.Value) != fmt.Sprint(r.Offset) {
				return fmt.Errorf("offset %d stored twice or wrong", r.Offset)
			}
			seen[r.Offset] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 30 {
		t.Fatalf("%d records stored, want 30", len(seen))
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// TestCutKeepsTopicIDGuard: the run that continues a topic after a cut
// (snapshot create, --snapshot-every) still drops records fetched from an
// earlier incarnation of the topic, like the run it replaces.
func TestCutKeepsTopicIDGuard(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts := Options{}
	if err := opts.defaults(); err != nil {
		t.Fatal(err)
	}
	b := newBackup(ctx, st, nil, opts)
	live := kafka.Topic{Name: "t", ID: "current", RawID: [16]byte{1}, Partitions: 1}
	lease, err := st.AcquireLease(ctx, "t", "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release(ctx)
	if _, err := st.FenceManifest(ctx, lease); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateManifest(ctx, lease, func(m *store.Manifest) error {
		m.StartVersion(store.Snapshot{TopicID: live.ID, Partitions: 1})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	loc := store.Loc{Topic: "t", Version: 1}
	iw, err := st.OpenIndexWriter(ctx, lease, loc)
	if err != nil {
		t.Fatal(err)
	}
	t0 := b.newTopicRun(live, loc, lease, iw, nil)
	b.topics["t"] = t0
	t0.start(ctx, 1, nil)
	nt, err := b.cutSnapshot(ctx, t0, live, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = nt.stop() }()
	w := nt.parts[0]
	fetch := func(id [16]byte) kgo.Fetches {
		return kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "t", TopicID: id, Partitions: []kgo.FetchPartition{{
			Partition: 0, Records: []*kgo.Record{{Topic: "t", Offset: 0, Value: []byte("x")}},
		}}}}}}
	}
	if err := b.dispatch(ctx, fetch([16]byte{9})); err != nil {
		t.Fatal(err)
	}
	if w.polled != 0 {
		t.Fatal("the run after the cut took a record fetched from an earlier incarnation of the topic")
	}
	if err := b.dispatch(ctx, fetch(live.RawID)); err != nil {
		t.Fatal(err)
	}
	if w.polled != 1 {
		t.Fatal("the run after the cut dropped a record of the current topic")
	}
}
