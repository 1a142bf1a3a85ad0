package backup

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
)

func testCluster(t *testing.T, topic string, partitions int32, records int) *devcluster.Cluster {
	t.Helper()
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
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for i := 0; i < records; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Value: []byte(fmt.Sprint(i))})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return c
}

// writeOrphan uploads a segment of partition p holding offsets [from, to)
// without indexing it, as a crash after upload would leave it.
func writeOrphan(t *testing.T, st *store.Store, loc store.Loc, id string, p int32, from, to int64) {
	t.Helper()
	l, err := st.AcquireLease(context.Background(), loc.Topic, "orphan writer", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	up, err := st.CreateSegment(context.Background(), l, loc, store.SegmentOptions{ID: id, Partition: p, Start: from, Codec: store.CodecZstd})
	if err != nil {
		t.Fatal(err)
	}
	for o := from; o < to; o++ {
		if err := up.Append(&store.Record{Offset: o, Timestamp: time.UnixMilli(1000 + o), Value: []byte(fmt.Sprint(o))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := up.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestOrphansAdoptedOrDeleted(t *testing.T) {
	ctx := context.Background()
	c := testCluster(t, "orph", 1, 100)
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kc := &kafka.Config{Brokers: []string{c.Addr()}}
	// First run backs up offsets 0-99 into v1.
	if _, err := Run(ctx, st, kc, Options{Once: true}); err != nil {
		t.Fatal(err)
	}
	loc := store.Loc{Topic: "orph", Version: 1}
	// An orphan that continues the partition (100-109), one that
	// overlaps what is indexed (50-59), and one that holds records nothing
	// else holds but leaves a gap (120-129).
	writeOrphan(t, st, loc, "01J00000000000000000000000", 0, 100, 110)
	writeOrphan(t, st, loc, "01J00000000000000000000001", 0, 50, 60)
	writeOrphan(t, st, loc, "01J00000000000000000000002", 0, 120, 130)
	if _, err := Run(ctx, st, kc, Options{Once: true}); err != nil {
		t.Fatal(err)
	}
	ix, err := st.ReadIndex(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	ref := ix.Referenced()
	if !ref["01J00000000000000000000000"] || ref["01J00000000000000000000001"] {
		t.Fatalf("continuing orphan adopted: %v, overlapping orphan indexed: %v", ref["01J00000000000000000000000"], ref["01J00000000000000000000001"])
	}
	listed, err := st.ListSegments(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := listed["01J00000000000000000000001"]; ok {
		t.Fatal("overlapping orphan was not deleted")
	}
	if _, ok := listed["01J00000000000000000000002"]; !ok || ref["01J00000000000000000000002"] {
		t.Fatal("an orphan holding records nothing else holds was deleted or indexed across a gap")
	}
	if s := ix.Partitions[0]; s.NextOffset != 110 || s.Records != 110 {
		t.Fatalf("partition summary %+v, want next 110 and 110 records", s)
	}
}

func TestMatcher(t *testing.T) {
	for _, tc := range []struct {
		inc, exc []string
		topic    string
		want     bool
	}{
		{nil, nil, "orders", true},
		{nil, nil, "__consumer_offsets", false},
		{[]string{"ord.*"}, nil, "orders", true},
		{[]string{"ord"}, nil, "orders", false}, // anchored
		{[]string{"ord.*"}, []string{".*-tmp"}, "orders-tmp", false},
		{nil, []string{"orders"}, "orders", false},
		{[]string{"a", "b"}, nil, "b", true},
	} {
		m, err := newMatcher(tc.inc, tc.exc)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.match(tc.topic); got != tc.want {
			t.Errorf("inc %v exc %v topic %s: %v, want %v", tc.inc, tc.exc, tc.topic, got, tc.want)
		}
	}
	if _, err := newMatcher([]string{"("}, nil); err == nil {
		t.Error("invalid regex accepted")
	}
}

// TestDaemonStartsWithoutTopics: a daemon started before any matching topic
// exists creates its consumer when the first one appears (run with -race:
// the poll goroutine and discovery share the consumer).
func TestDaemonStartsWithoutTopics(t *testing.T) {
	c, err := devcluster.Start(devcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, st, &kafka.Config{Brokers: []string{c.Addr()}},
			Options{Discovery: 100 * time.Millisecond, SegmentAge: 100 * time.Millisecond})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, nil, "late"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "late", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ix, err := st.ReadIndex(context.Background(), store.Loc{Topic: "late", Version: 1})
		if err == nil && ix.Partitions[0].Records == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the late topic was not backed up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
