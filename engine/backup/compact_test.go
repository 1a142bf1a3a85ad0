package backup

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// storedCounter counts the segments a backup stores (Observer).
type storedCounter struct {
	nopObserver
	n atomic.Int64
}

func (c *storedCounter) SegmentStored(string, store.SegmentEntry) { c.n.Add(1) }

// values reads the records the index entries of partition p hold, in order.
func values(t *testing.T, st *store.Store, loc store.Loc, es []store.SegmentEntry) []string {
	t.Helper()
	var out []string
	err := st.Walk(context.Background(), loc, es, store.Walk{Record: func(_ *store.SegmentEntry, r *store.Record) error {
		out = append(out, fmt.Sprintf("%d:%s", r.Offset, r.Value))
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDaemonCompactsWhileWriting runs the daemon with compaction every
// 300 ms while records arrive on two partitions rolled every 20 ms. The
// merges must interleave with the daemon's own commits without losing or
// duplicating a record, a reader holding an index from before a merge must
// still read every segment it names during the grace, and the replaced
// segments must be deleted after it.
func TestDaemonCompactsWhileWriting(t *testing.T) {
	ctx := context.Background()
	const topic = "quiet"
	c := testCluster(t, topic, 2, 0)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	obs := &storedCounter{}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := Run(dctx, st, &kafka.Config{Brokers: []string{c.Addr()}}, Options{
			Discovery: 50 * time.Millisecond, SegmentAge: 20 * time.Millisecond,
			CompactInterval: 300 * time.Millisecond, CompactGrace: time.Second,
			Holder: "daemon", Logger: testLogger(t), Observer: obs,
		})
		done <- err
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}()

	// Records arrive in small batches for 3 s.
	var produced [2]int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(25 * time.Millisecond) {
			var rs []*kgo.Record
			for p := range int32(2) {
				for range 3 {
					rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, produced[p]))})
					produced[p]++
				}
			}
			if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	// A reader opens the index, and keeps reading what it named after a
	// merge replaced it.
	loc := store.Loc{Topic: topic, Version: 1}
	var old *store.Index
	waitUntil(t, "an index of 20 segments", func() bool {
		old, err = st.ReadIndex(ctx, loc)
		return err == nil && len(old.Segments) >= 20
	})
	waitUntil(t, "a merge", func() bool {
		ix, err := st.ReadIndex(ctx, loc)
		return err == nil && !slices.ContainsFunc(ix.Segments, func(e store.SegmentEntry) bool { return e.ULID == old.Segments[0].ULID })
	})
	for p := range int32(2) {
		if got := values(t, st, loc, old.Partition(p)); int64(len(got)) != old.Partitions[p].Records {
			t.Fatalf("a reader of the index before the merge read %d records of partition %d, want %d", len(got), p, old.Partitions[p].Records)
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Everything produced is stored once, in order, in fewer objects.
	var ix *store.Index
	waitUntil(t, "every record stored and merged", func() bool {
		ix, err = st.ReadIndex(ctx, loc)
		return err == nil && ix.Partitions[0].Records == int64(produced[0]) && ix.Partitions[1].Records == int64(produced[1]) &&
			int64(len(ix.Segments)) < obs.n.Load()/4
	})
	for p := range int32(2) {
		var want []string
		for i := range produced[p] {
			want = append(want, fmt.Sprintf("%d:p%d-%d", i, p, i))
		}
		if got := values(t, st, loc, ix.Partition(p)); !slices.Equal(got, want) {
			t.Fatalf("partition %d holds %d records, want %d, equal to those produced (first difference near %d)", p, len(got), len(want), firstDiff(got, want))
		}
	}
	t.Logf("%d segments committed, %d in the index after compaction", obs.n.Load(), len(ix.Segments))

	// After the grace, the replaced segments are gone.
	waitUntil(t, "the replaced segments deleted", func() bool {
		listed, err := st.ListSegments(ctx, loc)
		if err != nil {
			return false
		}
		now, err := st.ReadIndex(ctx, loc)
		if err != nil {
			return false
		}
		ref := now.Referenced()
		for id := range listed {
			if !ref[id] {
				return false
			}
		}
		return true
	})
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
