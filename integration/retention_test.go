package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/fs"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// startBackup runs backup.Run in-process until the returned stop is
// called (or the test ends); stop returns Backup's error.
func startBackup(t *testing.T, st *store.Store, addr string, opts backup.Options) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := backup.Run(ctx, st, &kafka.Config{Brokers: []string{addr}}, opts)
		done <- err
	}()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// mountInProcess mounts st with fs.Mount at a fresh directory and unmounts
// at clean-up (retrying while a file is still open).
func mountInProcess(t *testing.T, st *store.Store, opts fs.Options) string {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("/dev/fuse is missing: the mount tests need FUSE (%v)", err)
	}
	mp := t.TempDir()
	srv, err := fs.Mount(context.Background(), st, mp, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if err = srv.Unmount(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("unmount: %v", err)
	})
	return mp
}

// produceAt produces n records to partition p with values of about 1 KiB,
// numbered from, with timestamps ts, ts+1ms, …
func produceAt(t *testing.T, cl *kgo.Client, topic string, p int32, from, n int, ts time.Time) {
	t.Helper()
	var rs []*kgo.Record
	for i := from; i < from+n; i++ {
		v := fmt.Sprintf("%06d %s", i, strings.Repeat("retained payload ", 60))
		rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprint(i)), Value: []byte(v),
			Timestamp: ts.Add(time.Duration(i-from) * time.Millisecond)})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// indexed returns the number of records loc's index holds per partition.
func indexed(t *testing.T, st *store.Store, loc store.Loc) map[int32]int64 {
	t.Helper()
	ix, err := st.ReadIndex(context.Background(), loc)
	if store.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	n := map[int32]int64{}
	for _, e := range ix.Segments {
		n[e.Partition] += e.Records
	}
	return n
}

// decodedLines renders segment e as the mount shows it.
func decodedLines(t *testing.T, st *store.Store, loc store.Loc, e store.SegmentEntry) []byte {
	t.Helper()
	sr, err := st.OpenSegment(context.Background(), loc, e.ULID, e.StoredBytes)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	if err := sr.Records(0, func(r *store.Record) error {
		b = store.AppendJSONLine(b, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRetentionWhileMountReads is issue 5's "retention deleting exactly the
// expired segments while a mount reads". Partition 0 holds records two days
// old (their segments expire at the first retention pass, with a one-hour
// retention) followed by new ones; a mount has records.jsonl and an expiring
// segment file open when the daemon's retention pass runs. Meanwhile
// partition 1's open segment holds old records too: it must survive.
func TestRetentionWhileMountReads(t *testing.T) {
	c := startCluster(t)
	const topic = "ret"
	createTopic(t, c.Addr(), topic, 2, nil)
	cl := client(t, c.Addr())
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	loc := store.Loc{Topic: topic, Version: 1}
	old := time.Now().Add(-48 * time.Hour)
	opts := backup.Options{Retention: time.Hour, BlockSize: 4096, SegmentAge: 300 * time.Millisecond,
		Discovery: 200 * time.Millisecond, RetentionInterval: time.Hour}

	// Phase 1: expired and live segments, no retention pass after the first
	// (which runs before anything is indexed).
	stop := startBackup(t, st, c.Addr(), opts)
	produceAt(t, cl, topic, 0, 0, 600, old)
	waitFor(t, 15*time.Second, "old records indexed", func() bool { return indexed(t, st, loc)[0] == 600 })
	produceAt(t, cl, topic, 0, 600, 50, time.Now())
	produceAt(t, cl, topic, 1, 0, 50, time.Now())
	waitFor(t, 15*time.Second, "new records indexed", func() bool {
		n := indexed(t, st, loc)
		return n[0] == 650 && n[1] == 50
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ix, err := st.ReadIndex(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var want []byte        // partition 0's records.jsonl
	var expiredBytes int64 // its first expiredBytes bytes are in expired segments
	expired := map[string]bool{}
	for _, e := range ix.Partition(0) {
		// The policy decides at each pass, not at write time: no pass
		// has run since these were indexed.
		isOld := e.MaxTimestamp.Before(now.Add(-time.Hour))
		if e.Expired(now) {
			t.Fatalf("segment %s (newest record %s) expired before any retention pass", e.ULID, e.MaxTimestamp)
		}
		if isOld {
			if int64(len(want)) != expiredBytes {
				t.Fatalf("expired segment %s follows a live one", e.ULID)
			}
			expired[e.ULID] = true
			expiredBytes += e.DecodedBytes
		}
		want = append(want, decodedLines(t, st, loc, e)...)
	}
	if len(expired) == 0 || expiredBytes < 64<<10 {
		t.Fatalf("%d expired segments of %d bytes: want several blocks to read after the deletion", len(expired), expiredBytes)
	}

	// The mount, a separate store instance like a separate process, opens
	// records.jsonl and the first expired segment's file and reads a block.
	mst, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer mst.Close()
	mlog := &storetest.SyncBuffer{}
	mp := mountInProcess(t, mst, fs.Options{Refresh: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(mlog, nil))})
	part := filepath.Join(mp, "topics", topic, "snapshots", "v1", "0")
	rf, err := os.Open(filepath.Join(part, "records.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	first := ix.Partition(0)[0]
	segWant := want[:first.DecodedBytes]
	sf, err := os.Open(filepath.Join(part, "segments", fmt.Sprintf("%020d-%020d.jsonl", first.FirstOffset, first.LastOffset)))
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	const chunk = 4096
	const pageSize = 4096
	for _, f := range []*os.File{rf, sf} {
		buf := make([]byte, chunk)
		if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != string(want[:chunk]) {
			t.Fatalf("read %s before retention: %v, or wrong bytes", f.Name(), err)
		}
	}

	// Phase 2: retention passes every 200ms; partition 1 gets old records
	// that stay in its open segment (segment age 1m) during the passes.
	opts.RetentionInterval, opts.SegmentAge = 200*time.Millisecond, time.Minute
	opts.Stats = &backup.Stats{}
	stop = startBackup(t, st, c.Addr(), opts)
	produceAt(t, cl, topic, 1, 50, 40, old)
	waitFor(t, 15*time.Second, "the daemon to consume the old records of partition 1", func() bool { return opts.Stats.Records.Load() == 40 })
	waitFor(t, 15*time.Second, "retention to delete the expired segments", func() bool {
		listed, err := st.ListSegments(context.Background(), loc)
		if err != nil {
			t.Fatal(err)
		}
		for id := range expired {
			if _, ok := listed[id]; ok {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // several more passes with partition 1's segment open

	// Exactly the expired objects are gone; the index still names them.
	listed, err := st.ListSegments(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	ix2, err := st.ReadIndex(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(ix2.Segments) != len(ix.Segments) {
		t.Fatalf("index has %d entries after retention, %d before (partition 1's open segment must not be indexed yet)", len(ix2.Segments), len(ix.Segments))
	}
	for _, e := range ix2.Segments {
		_, present := listed[e.ULID]
		if present == expired[e.ULID] {
			t.Errorf("segment %s (partition %d, expired %v): present=%v", e.ULID, e.Partition, e.Expired(time.Now()), present)
		}
		if expired[e.ULID] && !e.Expired(time.Now()) {
			t.Errorf("index entry %s lost its expiry", e.ULID)
		}
	}
	if len(listed) != len(ix2.Segments)-len(expired) {
		t.Errorf("%d objects listed, want %d", len(listed), len(ix2.Segments)-len(expired))
	}

	// The open files give their data or EIO, never other bytes.
	readAll := func(f *os.File, want []byte, expiredTo int64) (eio int) {
		t.Helper()
		buf := make([]byte, chunk)
		for off := int64(chunk); off < int64(len(want)); off += chunk {
			n, err := f.ReadAt(buf, off)
			if err != nil && !errors.Is(err, io.EOF) {
				if !errors.Is(err, syscall.EIO) || off >= expiredTo {
					t.Fatalf("%s at %d: %v; want data, or EIO in the expired range [0,%d)", f.Name(), off, err, expiredTo)
				}
				eio++
				continue
			}
			if string(buf[:n]) != string(want[off:off+int64(n)]) || n != min(chunk, len(want)-int(off)) {
				t.Fatalf("%s at %d: %d bytes that differ from the segment's data", f.Name(), off, n)
			}
		}
		return eio
	}
	eio := readAll(rf, want, expiredBytes)
	if eio == 0 {
		t.Errorf("records.jsonl read the expired range after deletion without EIO")
	}
	segEIO := readAll(sf, segWant, int64(len(segWant))) // kept in the page cache or EIO: both are fine
	t.Logf("%d expired segments (%d decoded bytes) deleted; reads after deletion: records.jsonl %d EIO, segment file %d EIO, the rest correct data",
		len(expired), expiredBytes, eio, segEIO)
	fresh, err := os.Open(filepath.Join(part, "records.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	buf := make([]byte, chunk)
	if _, err := fresh.ReadAt(buf, 0); !errors.Is(err, syscall.EIO) {
		t.Errorf("new open of records.jsonl, read at 0: %v, want EIO", err)
	}
	// records.jsonl is read through the page cache, a page at a time: the
	// page that holds the end of the deleted range and the start of the
	// live one gives EIO or its live bytes; every later byte is readable.
	live := (expiredBytes + pageSize - 1) / pageSize * pageSize
	tail := want[live:]
	got := make([]byte, len(tail))
	if _, err := fresh.ReadAt(got, live); err != nil && !errors.Is(err, io.EOF) || string(got) != string(tail) {
		t.Errorf("live part of records.jsonl from byte %d: %v, or wrong bytes", live, err)
	}
	if live > expiredBytes {
		straddle := make([]byte, live-expiredBytes)
		if _, err := fresh.ReadAt(straddle, expiredBytes); err != nil && !errors.Is(err, syscall.EIO) || err == nil && string(straddle) != string(want[expiredBytes:live]) {
			t.Errorf("records.jsonl at %d, where the live part starts: %v, or wrong bytes", expiredBytes, err)
		}
	}
	if !strings.Contains(mlog.String(), "segment expired and was deleted by retention") {
		t.Errorf("the mount did not log the retention; log:\n%s", mlog)
	}

	// Partition 1's open segment, old records and all, is flushed at stop.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := indexed(t, st, loc)[1]; n != 90 {
		t.Fatalf("partition 1: %d records indexed after stop, want 90", n)
	}
	stored := storageRead(t, dir, topic, 1)
	kc := kcatRead(t, c.Addr(), topic)
	sameRecords(t, "partition 1", map[int32][]rec{1: kc[1]}, map[int32][]rec{1: stored[1]})
	if len(kc[0]) != 650 || len(stored[0]) != 50 {
		t.Fatalf("partition 0: %d records stored, %d in Kafka; want the 50 live ones of 650", len(stored[0]), len(kc[0]))
	}
	sameRecords(t, "partition 0 (live part)", map[int32][]rec{0: kc[0][600:]}, map[int32][]rec{0: stored[0]})
}
