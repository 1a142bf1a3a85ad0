package restore

import (
	"bytes"
	"crypto/rand"
	"fmt"

	"context"
	"errors"
	"math"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/store"
	fixture "github.com/kbackup/kbackup/store/storetest"
)

// knownEnv is an env whose store holds the known fixture backup (orders v1
// with one expired segment, orders v2, legacy).
func knownEnv(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t)
	dir := t.TempDir()
	st, err := store.Open(e.ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := fixture.Known(e.ctx, st); err != nil {
		t.Fatal(err)
	}
	e.st = st
	return e, dir
}

// v1 is the fixture's first snapshot of orders.
var v1 = store.Loc{Topic: "orders", Version: 1}

// retain runs a retention pass over topic with policy at now, as the backup
// daemon does.
func retain(t *testing.T, st *store.Store, topic string, policy time.Duration, now time.Time) {
	t.Helper()
	ctx := context.Background()
	err := fixture.WithLease(ctx, st, topic, func(l *store.Lease) error {
		_, err := backup.ApplyRetention(ctx, st, l, policy, now, func(ctx context.Context, loc store.Loc) (backup.Expirer, error) {
			return st.OpenIndexWriter(ctx, l, loc)
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func v1Spec(target string) *Spec {
	spec := mapping("orders", target)
	spec.Spec.Config.Topics[0].Snapshot = &SnapshotRef{Version: "v1"}
	return spec
}

// TestRestoreSkipsExpiredSegments restores a snapshot whose backup
// retention deleted a segment: the restore skips it, says which offsets
// and times it skipped, and fails before creating anything when a segment
// that has not expired is missing.
func TestRestoreSkipsExpiredSegments(t *testing.T) {
	e, dir := knownEnv(t)
	retain(t, e.st, "orders", 0, time.Now())
	res, err := e.restore(v1Spec("v1-copy"), Options{})
	if err != nil {
		t.Fatalf("restore after retention: %v", err)
	}
	ts := res.Topics[0]
	if ts.Records != 80 || ts.ExpiredRecords != 50 || res.Produced != 80 {
		t.Fatalf("records %d, expired %d, produced %d; want 80, 50, 80", ts.Records, ts.ExpiredRecords, res.Produced)
	}
	want := ExpiredSpan{FirstOffset: 0, LastOffset: 49, MinTimestamp: fixture.Base, MaxTimestamp: fixture.Base.Add(49 * time.Second), Records: 50}
	if got := ts.Partitions[0].Expired; len(got) != 1 || got[0] != want {
		t.Fatalf("partition 0 expired %+v, want %+v", got, want)
	}
	// Restore by copy shows it in restore/<name>/status.
	rs := NewRuns(e.ctx, e.st, e.kcfg, RunsOptions{})
	defer rs.Close()
	if err := rs.Start("by-copy", v1Spec("v1-by-copy")); err != nil {
		t.Fatal(err)
	}
	var rep Report
	for rep.Finished.IsZero() {
		time.Sleep(10 * time.Millisecond)
		rep, _ = rs.Report("by-copy")
	}
	if len(rep.Status.Topics) != 1 || rep.Status.Topics[0].ExpiredRecords != 50 || len(rep.Status.Topics[0].Partitions) == 0 {
		t.Fatalf("report of by-copy: %+v", rep)
	}
	if got := rep.Status.Topics[0].Partitions[0].Expired; len(got) != 1 || got[0] != want {
		t.Fatalf("report shows partition 0 expired %+v, want %+v", got, want)
	}
	got := e.kcatRead("v1-copy")
	if len(got[0]) != 50 || *got[0][0].Key != "key-1" || len(got[1]) != 30 { // offset 50 has key-(50%7)
		t.Fatalf("target holds %d+%d records, first key %v", len(got[0]), len(got[1]), got[0][0].Key)
	}

	// A segment that has not expired is missing: lost data, refused before
	// the target is created.
	seg2 := fixture.OrdersV1[1].ID
	if err := os.Remove(fixture.SegmentPath(dir, v1, seg2)); err != nil {
		t.Fatal(err)
	}
	_, err = e.restore(v1Spec("v1-lost"), Options{})
	errContains(t, err, ErrPreflight, seg2, "partition 0", "offsets 50-99", "has not expired")
	if e.topicExists("v1-lost") {
		t.Fatal("a restore that found lost data created its target")
	}

	// The same segment, on a clock just before its expiry: a retention pass
	// on a clock ahead of ours deleted it, so it counts as expired.
	near := func() time.Time { return fixture.Future.Add(-time.Minute) }
	res, err = e.restore(v1Spec("v1-near"), Options{Now: near})
	if err != nil {
		t.Fatal(err)
	}
	if ts := res.Topics[0]; ts.Records != 30 || ts.ExpiredRecords != 100 || len(ts.Partitions[0].Expired) != 1 || ts.Partitions[0].Expired[0].LastOffset != 99 {
		t.Fatalf("near expiry: records %d, expired %d %+v", ts.Records, ts.ExpiredRecords, ts.Partitions[0].Expired)
	}
}

// TestWalkSkipsSegmentDeletedWhileRestoring deletes a planned segment after
// planning, as a retention pass running during the restore would.
func TestWalkSkipsSegmentDeletedWhileRestoring(t *testing.T) {
	ctx := context.Background()
	st, dir := fixture.KnownStore(t)
	now := fixture.Future.Add(-time.Minute) // segment 2 expires within the grace
	r := &restorer{st: st, now: func() time.Time { return fixture.Past.Add(-time.Hour) }}
	j, err := r.plan(ctx, TopicMapping{Source: "orders", Snapshot: &SnapshotRef{Version: "v1"}}, newFilter(0, -1, math.MinInt64, math.MaxInt64))
	if err != nil {
		t.Fatal(err)
	}
	pp := j.plans[0]
	if len(pp.segs) != 2 {
		t.Fatalf("planned %d segments of partition 0, want 2", len(pp.segs))
	}
	if err := os.Remove(fixture.SegmentPath(dir, v1, fixture.OrdersV1[1].ID)); err != nil {
		t.Fatal(err)
	}
	count := func() (int64, error) {
		var n int64
		_, err := pp.walk(ctx, st, j.loc, 0, func(_, _, _ int64) bool { return false }, func(int64, *store.Record) bool { n++; return false })
		return n, err
	}
	if _, err := count(); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a segment deleted long before its expiry: %v, want ErrNotFound", err)
	}
	pp.now = func() time.Time { return now }
	n, err := count()
	if err != nil || n != 50 {
		t.Fatalf("walk read %d records, %v; want 50", n, err)
	}
	if spans, recs := pp.expiredSpans(); len(spans) != 1 || spans[0].FirstOffset != 50 || recs != 50 {
		t.Fatalf("expired %+v", spans)
	}
}

// TestRestoreHugePartitionNumber plans an index naming partition
// 2147483647, whose count p+1 overflows int32.
func TestRestoreHugePartitionNumber(t *testing.T) {
	e := newEnv(t)
	m := &store.Manifest{Topic: "huge", Active: 1, Snapshots: []store.Snapshot{{Version: 1, TopicID: fixture.TopicIDv1, Created: fixture.Created1, Partitions: 1}}}
	loc := store.Loc{Topic: "huge", Version: 1}
	segs := []fixture.Segment{{ID: "01KF0000000000000000000009", Partition: math.MaxInt32, N: 5}}
	err := fixture.WithLease(e.ctx, e.st, "huge", func(l *store.Lease) error {
		if err := e.st.WriteManifest(e.ctx, l, m); err != nil {
			return err
		}
		return fixture.WriteSnapshot(e.ctx, e.st, l, loc, segs)
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.restore(mapping("huge", "huge-copy"), Options{})
	errContains(t, err, ErrPreflight, "partition 2147483647", "damaged")
	if res.Phase != Failed || e.topicExists("huge-copy") {
		t.Fatalf("phase %s; target created: %t", res.Phase, e.topicExists("huge-copy"))
	}
}

// TestRestoreLargeRecords restores records larger than the topic's
// max.message.bytes that the source accepted because they were compressed,
// beside incompressible ones that only fit a larger limit: franz-go bounds
// batches by their uncompressed size, the broker by the compressed one.
func TestRestoreLargeRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("produces records near 1 MiB; skipped with -short (make test runs it)")
	}
	e := newEnv(t)
	e.createTopic("large", 2, nil) // default max.message.bytes: 1048588
	e.createTopic("large4", 1, map[string]string{"max.message.bytes": "4194304"})
	rnd := make([]byte, 3<<20)
	if _, err := rand.Read(rnd); err != nil {
		t.Fatal(err)
	}
	compressible := bytes.Repeat([]byte("kbackup restores every record "), (3<<20)/30)
	pcl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(16<<20), kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	rec := func(topic string, p int32, i int, v []byte) *kgo.Record {
		return &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprint("k", i)), Value: v, Timestamp: base.Add(time.Duration(i) * time.Second)}
	}
	var recs []*kgo.Record
	for i := 0; i < 40; i++ {
		v := []byte(fmt.Sprint("small ", i))
		switch i % 10 {
		case 3:
			v = compressible // 3 MiB, about 1 KiB compressed
		case 6:
			v = rnd[:1000000] // incompressible, just under the limit
		case 8:
			v = append(append([]byte{}, compressible...), 'x') // two large records in a row
		}
		recs = append(recs, rec("large", int32(i%2), i, v))
	}
	recs = append(recs, rec("large4", 0, 0, rnd), rec("large4", 0, 1, compressible), rec("large4", 0, 2, []byte("after")))
	for _, r := range recs {
		if err := pcl.ProduceSync(e.ctx, r).FirstErr(); err != nil {
			t.Fatalf("source refused record %s/%d: %v", r.Topic, len(r.Value), err)
		}
	}
	e.backup("large", "large4")
	for _, topic := range []string{"large", "large4"} {
		res, err := e.restore(mapping(topic, topic+"-copy"), Options{})
		if err != nil {
			t.Fatalf("restore %s: %v", topic, err)
		}
		src, dst := e.kcatRead(topic), e.kcatRead(topic+"-copy")
		var n int64
		for p := range src {
			compare(t, fmt.Sprintf("%s partition %d", topic, p), src[p], dst[p])
			n += int64(len(src[p]))
		}
		if res.Produced != n {
			t.Fatalf("%s: produced %d of %d", topic, res.Produced, n)
		}
	}
}
