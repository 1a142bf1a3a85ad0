package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// TestSnapshotCreateOnRunningDaemon cuts a version while backup.Run runs
// and checks that v1 and v2 are consecutive, gap-free ranges holding every
// record exactly once.
func TestSnapshotCreateOnRunningDaemon(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cl := devCluster(t, ctx, false)
	prod, err := kgo.NewClient(kgo.SeedBrokers(cl.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if _, err := kadm.NewClient(prod).CreateTopic(ctx, 2, 1, nil, "live"); err != nil {
		t.Fatal(err)
	}
	produce := func(from, n int) {
		t.Helper()
		var rs []*kgo.Record
		for i := from; i < from+n; i++ {
			rs = append(rs, &kgo.Record{Topic: "live", Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))})
		}
		if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	t.Setenv("KBACKUP_STORAGE", dir)
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	bctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := backup.Run(bctx, st, &kafka.Config{Brokers: []string{cl.Addr()}},
			backup.Options{Discovery: 200 * time.Millisecond, SegmentAge: 200 * time.Millisecond})
		done <- err
	}()
	produce(0, 100)
	waitRecords(ctx, t, st, 1, 100)

	out, errOut, code := run(t, "snapshot", "create", "--wait", "10s", "live")
	if code != exitOK {
		t.Fatalf("snapshot create: exit %d: %s", code, errOut)
	}
	if out != "Topic: live: created v2 by the running backup; v1 archived\n" {
		t.Fatalf("output %q", out)
	}
	if !strings.Contains(errOut, "topic live is held by a running backup: asked it to cut a new version at its next discovery; waiting up to 10s") {
		t.Errorf("snapshot create does not say what it waits for: %q", errOut)
	}
	produce(100, 100)
	waitRecords(ctx, t, st, 2, 100)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	m, err := st.ReadManifest(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, p := range []int32{0, 1} {
		e1, e2 := entries(ctx, t, st, 1, p), entries(ctx, t, st, 2, p)
		last := e1[len(e1)-1]
		if e2[0].StartOffset != last.NextOffset || m.Snapshots[1].StartOffsets[p] != last.NextOffset {
			t.Errorf("partition %d: v2 starts at %d (manifest %d), v1 ends at %d", p, e2[0].StartOffset, m.Snapshots[1].StartOffsets[p], last.NextOffset)
		}
		for v, es := range [][]store.SegmentEntry{e1, e2} {
			for i, e := range es {
				if i > 0 && e.StartOffset != es[i-1].NextOffset {
					t.Errorf("v%d partition %d: gap before %s", v+1, p, e.ULID)
				}
				readValues(ctx, t, st, store.Loc{Topic: "live", Version: v + 1}, e, seen)
			}
		}
	}
	for i := 0; i < 200; i++ {
		if n := seen[fmt.Sprint(i)]; n != 1 {
			t.Errorf("record %d stored %d times", i, n)
		}
	}
	if len(seen) != 200 {
		t.Errorf("%d distinct records, want 200", len(seen))
	}
}

func waitRecords(ctx context.Context, t *testing.T, st *store.Store, v int, want int64) {
	t.Helper()
	for ctx.Err() == nil {
		ix, err := st.ReadIndex(ctx, store.Loc{Topic: "live", Version: v})
		if err == nil {
			var n int64
			for _, e := range ix.Segments {
				n += e.Records
			}
			if n >= want {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("v%d never reached %d records", v, want)
}

func entries(ctx context.Context, t *testing.T, st *store.Store, v int, p int32) []store.SegmentEntry {
	t.Helper()
	ix, err := st.ReadIndex(ctx, store.Loc{Topic: "live", Version: v})
	if err != nil {
		t.Fatal(err)
	}
	es := ix.Partition(p)
	if len(es) == 0 {
		t.Fatalf("v%d has no segment for partition %d", v, p)
	}
	return es
}

func readValues(ctx context.Context, t *testing.T, st *store.Store, loc store.Loc, e store.SegmentEntry, seen map[string]int) {
	t.Helper()
	sr, err := st.OpenSegment(ctx, loc, e.ULID, e.StoredBytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := sr.Records(0, func(r *store.Record) error {
		seen[string(r.Value)]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
