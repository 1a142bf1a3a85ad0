package fs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kbackup/kbackup/store"
)

// mountCounters reads the mount's counters (.kbackup/stats).
func mountCounters(tb testing.TB, mp string) map[string]int64 {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(mp, statsDir, statsFile))
	if err != nil {
		tb.Fatalf("read counters: %v", err)
	}
	out := map[string]int64{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(l, " ")
		out[k], _ = strconv.ParseInt(v, 10, 64)
	}
	return out
}

// fakeEntries returns n index entries of partition p, 10 records each, for
// listing only: no segment object exists for them.
func fakeEntries(p int32, n int) []store.SegmentEntry {
	es := make([]store.SegmentEntry, n)
	for i := range es {
		first := int64(i) * 10
		t := baseTime.Add(time.Duration(i) * time.Second)
		es[i] = store.SegmentEntry{
			ULID: fmt.Sprintf("01FAKE%020d", i), Partition: p,
			StartOffset: first, FirstOffset: first, LastOffset: first + 9, NextOffset: first + 10,
			FirstTimestamp: t, LastTimestamp: t, MinTimestamp: t, MaxTimestamp: t,
			Records: 10, StoredBytes: 500, DecodedBytes: 2000, Codec: "zstd", Checksum: "crc32c:00000000",
		}
	}
	return es
}

// writeManyTopics stores n topics t00000… with a manifest (one snapshot v1,
// one partition) and a one-entry index head each; no segment objects.
func writeManyTopics(tb testing.TB, st *store.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	var g errgroup.Group
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error {
			topic := fmt.Sprintf("t%05d", i)
			m := &store.Manifest{Topic: topic, Active: 1, Snapshots: []store.Snapshot{
				{Version: 1, TopicID: "id", Created: baseTime, Partitions: 1},
			}}
			l, err := st.AcquireLease(ctx, topic, "fs test", time.Hour)
			if err != nil {
				return err
			}
			defer l.Release(ctx)
			if err := st.WriteManifest(ctx, l, m); err != nil {
				return err
			}
			return st.WriteIndex(ctx, l, store.Loc{Topic: topic, Version: 1}, fakeEntries(0, 1))
		})
	}
	if err := g.Wait(); err != nil {
		tb.Fatal(err)
	}
}

// sharedFixture builds a store once per test binary run, in a directory
// removed by TestMain; benchmarks that are run several times (b.N ramps)
// reuse it.
type sharedFixture struct {
	once sync.Once
	st   *store.Store
	err  error
}

var fixtureDirs struct {
	mu   sync.Mutex
	dirs []string
}

func (f *sharedFixture) get(tb testing.TB, build func(st *store.Store)) *store.Store {
	tb.Helper()
	f.once.Do(func() {
		dir, err := os.MkdirTemp("", "kbackup-fs-bench-")
		if err != nil {
			f.err = err
			return
		}
		fixtureDirs.mu.Lock()
		fixtureDirs.dirs = append(fixtureDirs.dirs, dir)
		fixtureDirs.mu.Unlock()
		f.st, f.err = store.Open(context.Background(), dir)
		if f.err == nil {
			build(f.st)
		}
	})
	if f.err != nil {
		tb.Fatal(f.err)
	}
	return f.st
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range fixtureDirs.dirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// heapSampler records the peak Go heap in use while it runs.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}
	base uint64 // heap in use when sampling started, after a GC
	peak uint64
	rss  uint64 // peak resident set size of the process, bytes
}

func sampleHeap(every time.Duration) *heapSampler {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{}), base: ms.HeapInuse}
	go func() {
		defer close(h.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			h.peak = max(h.peak, ms.HeapInuse)
			h.rss = max(h.rss, residentBytes())
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the peak HeapInuse in bytes.
func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	<-h.done
	return h.peak
}

// residentBytes returns the process's resident set size (VmRSS), or 0.
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
