package fs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

var (
	manyTopics     sharedFixture // 10,000 topics
	largePartition sharedFixture // one partition of 100,000 segments
	bigRecords     sharedFixture // one partition of about 400 MB decoded
)

// mountOnce mounts st at mp (an empty directory) and returns the server;
// the caller unmounts.
func mountOnce(b *testing.B, st *store.Store, mp string) *Server {
	b.Helper()
	srv, err := Mount(context.Background(), st, mp, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

func unmount(b *testing.B, srv *Server) {
	b.Helper()
	var err error
	for range 50 {
		if err = srv.Unmount(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal(err)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkMountManyTopics mounts a store of 10,000 topics and lists
// topics/ with ls (READDIRPLUS: one Lookup per topic): the issue asks for
// under 2 s, reading no manifest.
func BenchmarkMountManyTopics(b *testing.B) {
	requireFUSE(b)
	const n = 10000
	st := manyTopics.get(b, func(st *store.Store) { writeManyTopics(b, st, n) })
	mp := b.TempDir()
	b.ResetTimer()
	var mount, ls time.Duration
	var manifests int64
	for range b.N {
		t0 := time.Now()
		srv := mountOnce(b, st, mp)
		t1 := time.Now()
		out := sh(b, "ls "+mp+"/topics | wc -l")
		t2 := time.Now()
		if got := strings.TrimSpace(out); got != fmt.Sprint(n) {
			b.Fatalf("ls topics listed %s, want %d", got, n)
		}
		manifests += mountCounters(b, mp)["manifests_read"]
		unmount(b, srv)
		mount += t1.Sub(t0)
		ls += t2.Sub(t1)
	}
	b.ReportMetric(ms(mount)/float64(b.N), "mount-ms")
	b.ReportMetric(ms(ls)/float64(b.N), "ls-topics-ms")
	b.ReportMetric(float64(manifests)/float64(b.N), "manifests-read")
}

// BenchmarkLsLargePartition lists segments/ of a partition of 100,000
// segments (index entries only: listing opens no segment) with ls -l, on a
// fresh mount (cold: includes reading the index) and again (warm), and
// stats records.jsonl. The issue asks for ls under a second.
func BenchmarkLsLargePartition(b *testing.B) {
	requireFUSE(b)
	const n = 100000
	loc := store.Loc{Topic: "big", Version: 1}
	st := largePartition.get(b, func(st *store.Store) { writeBigIndex(b, st, loc, n) })
	mp := b.TempDir()
	part := mp + "/topics/big/snapshots/v1/0"
	b.ResetTimer()
	var readIndex, cold, warm, stat time.Duration
	for range b.N {
		t0 := time.Now()
		if _, err := st.ReadIndex(context.Background(), loc); err != nil {
			b.Fatal(err)
		}
		readIndex += time.Since(t0)

		srv := mountOnce(b, st, mp)
		t0 = time.Now()
		out := sh(b, "ls -l "+part+"/segments | wc -l")
		t1 := time.Now()
		sh(b, "ls -l "+part+"/segments | wc -l")
		t2 := time.Now()
		sh(b, "stat "+part+"/records.jsonl")
		t3 := time.Now()
		if got := strings.TrimSpace(out); got != fmt.Sprint(n+1) { // + "total"
			b.Fatalf("ls -l listed %s lines, want %d", got, n+1)
		}
		unmount(b, srv)
		cold += t1.Sub(t0)
		warm += t2.Sub(t1)
		stat += t3.Sub(t2)
	}
	b.ReportMetric(ms(readIndex)/float64(b.N), "store-read-index-ms")
	b.ReportMetric(ms(cold)/float64(b.N), "ls-cold-ms")
	b.ReportMetric(ms(warm)/float64(b.N), "ls-warm-ms")
	b.ReportMetric(ms(stat)/float64(b.N), "stat-ms")
}

// BenchmarkCatMemory reads records.jsonl of a partition of about 400 MB
// through the mount (in this process) and reports the peak Go heap in use
// during the read; it must not grow with the partition (see
// TestCatBoundedHeap and docs/mount.md).
func BenchmarkCatMemory(b *testing.B) {
	requireFUSE(b)
	loc := store.Loc{Topic: "huge"}
	st := bigRecords.get(b, func(st *store.Store) { writeBigPartition(b, st, loc, 50) })
	mp := mountStore(b, st, Options{})
	file := filepath.Join(mp, "topics/huge/snapshots/v0/0/records.jsonl")
	fi, err := os.Stat(file)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ResetTimer()
	var peak, rss, base uint64
	for range b.N {
		h := sampleHeap(5 * time.Millisecond)
		n := catFile(b, file, false)
		peak = max(peak, h.Stop())
		rss, base = max(rss, h.rss), h.base
		if n != fi.Size() {
			b.Fatalf("read %d bytes, want %d", n, fi.Size())
		}
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	b.ReportMetric(float64(base)/(1<<20), "heap-before-MiB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
}

// writeBigPartition stores partition 0 of loc as nseg segments of 16,000
// records of about 500 bytes (about 8 MB decoded each), 1 MiB blocks.
func writeBigPartition(tb testing.TB, st *store.Store, loc store.Loc, nseg int) {
	tb.Helper()
	value := strings.Repeat("abcdefghij", 40)
	const perSeg = 16000
	var es []store.SegmentEntry
	recs := make([]store.Record, perSeg)
	for s := range nseg {
		for i := range recs {
			off := int64(s*perSeg + i)
			recs[i] = store.Record{
				Offset: off, Timestamp: baseTime.Add(time.Duration(off) * time.Millisecond),
				Key:     []byte(fmt.Sprintf("key-%d", off)),
				Value:   []byte(fmt.Sprintf(`{"id":%d,"payload":"%s"}`, off, value)),
				Headers: []store.Header{{Key: "h", Value: []byte("v")}},
			}
		}
		es = append(es, writeSegment(tb, st, loc, 0, recs, 0, store.CodecZstd))
	}
	appendIndex(tb, st, loc, es...)
}
