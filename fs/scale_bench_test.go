package fs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/integration/benchtab"
	"github.com/kbackup/kbackup/store"
)

var (
	manyTopics     sharedFixture // 10,000 topics
	largePartition sharedFixture // one partition of 100,000 segments
	bigRecords     sharedFixture // one partition of about 400 MB decoded
)

// mountOnce mounts st at mp (an empty directory) and returns the server;
// the caller unmounts.
func mountOnce(st *store.Store, mp string) (*Server, error) {
	return Mount(context.Background(), st, mp, Options{})
}

// whileMounted runs f, then unmounts srv (retrying while the mount is
// busy); it returns f's error, or else the unmount's.
func whileMounted(srv *Server, f func() error) error {
	err := f()
	var uerr error
	for range 50 {
		if uerr = srv.Unmount(); uerr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err == nil {
		err = uerr
	}
	return err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// shErr runs script with sh and returns its stdout.
func shErr(script string) (string, error) { return runErr("sh", "-c", script) }

// BenchmarkMountManyTopics mounts a store of 10,000 topics and lists
// topics/ with ls (READDIRPLUS: one Lookup per topic), on a fresh mount each
// round. Issue 4 asks for 10,000 topics mounted in under 2 s, reading no
// manifest.
func BenchmarkMountManyTopics(b *testing.B) {
	requireFUSE(b)
	const n = 10000
	st := manyTopics.get(b, func(st *store.Store) { writeManyTopics(b, st, n) })
	mp := b.TempDir()
	mount := benchtab.Contender{
		Name:     "kbackup mount",
		Settings: "file storage, default options, a fresh mount per run",
		Run: func(m *benchtab.Measure) error {
			start := time.Now()
			srv, err := mountOnce(st, mp)
			if err != nil {
				return err
			}
			m.Set("mount-ms", ms(time.Since(start)))
			return whileMounted(srv, func() error {
				var out string
				if err := m.Seconds("ls-s", func() (err error) { out, err = shErr("ls " + mp + "/topics | wc -l"); return err }); err != nil {
					return err
				}
				if got := strings.TrimSpace(out); got != fmt.Sprint(n) {
					return fmt.Errorf("ls topics listed %s, want %d", got, n)
				}
				m.Set("manifests", float64(mountCounters(b, mp)["manifests_read"]))
				return nil
			})
		},
	}
	res := benchtab.Run(b, benchtab.Options{}, mount)
	res.Figure(benchtab.Figure{ID: "mount-10k-topics", Name: "mount of 10,000 topics", Unit: "ms",
		Kbackup: res.Side(mount.Name, "mount-ms"), Goal: benchtab.AtMost(2000, "issue 4")})
	res.Figure(benchtab.Figure{ID: "ls-10k-topics", Name: "first ls topics/ of 10,000 topics", Unit: "s",
		Kbackup: res.Side(mount.Name, "ls-s"), Goal: benchtab.AtMost(2, "issue 4")})
	res.Figure(benchtab.Figure{ID: "ls-10k-topics-manifests", Name: "manifests read by the first ls topics/", Unit: "reads",
		Kbackup: res.Side(mount.Name, "manifests"), Goal: benchtab.AtMost(0, "issue 4: lazy")})
}

// BenchmarkLsLargePartition lists segments/ of a partition of 100,000
// segments (index entries only: listing opens no segment) on a fresh mount:
// ls first (cold: includes reading the index), then ls and ls -l again
// (warm), and stats records.jsonl. It also times store.ReadIndex alone.
// Issue 4 asks for ls under a second, issue 13 for ls -l under a second.
// The first listing is a plain ls: a cold ls -l costs about the index read
// plus a warm ls -l, and two of them per round doubled the benchmark's
// time on a loaded machine.
func BenchmarkLsLargePartition(b *testing.B) {
	requireFUSE(b)
	const n = 100000
	loc := store.Loc{Topic: "big", Version: 1}
	st := largePartition.get(b, func(st *store.Store) { writeBigIndex(b, st, loc, n) })
	mp := b.TempDir()
	part := mp + "/topics/big/snapshots/v1/0"
	lines := func(script string, want int) func() error {
		return func() error {
			out, err := shErr(script)
			if err == nil && strings.TrimSpace(out) != fmt.Sprint(want) {
				err = fmt.Errorf("%s printed %s lines, want %d", script, strings.TrimSpace(out), want)
			}
			return err
		}
	}
	readIndex := benchtab.Contender{
		Name:     "store.ReadIndex",
		Settings: "the whole index (100 sealed parts), no mount",
		Run: func(m *benchtab.Measure) error {
			return m.Seconds("s", func() error { _, err := st.ReadIndex(context.Background(), loc); return err })
		},
	}
	mount := benchtab.Contender{
		Name:     "kbackup mount",
		Settings: "file storage, default options, a fresh mount per run; GNU ls",
		Run: func(m *benchtab.Measure) error {
			srv, err := mountOnce(st, mp)
			if err != nil {
				return err
			}
			return whileMounted(srv, func() error {
				steps := []struct {
					metric string
					f      func() error
				}{
					{"ls-cold-s", lines("ls "+part+"/segments | wc -l", n)},
					{"ls-warm-s", lines("ls "+part+"/segments | wc -l", n)},
					{"ls-l-warm-s", lines("ls -l "+part+"/segments | wc -l", n+1)}, // + "total"
				}
				for _, s := range steps {
					if err := m.Seconds(s.metric, s.f); err != nil {
						return err
					}
				}
				start := time.Now()
				if _, err := os.Stat(part + "/records.jsonl"); err != nil {
					return err
				}
				m.Set("stat-ms", ms(time.Since(start)))
				return nil
			})
		},
	}
	// The peer: GNU ls -l of 100,000 empty files in a local directory of
	// the same machine (its disk file system), asked the same statx and
	// getxattr per file.
	local := b.TempDir()
	for i := range n {
		f, err := os.Create(filepath.Join(local, fmt.Sprintf("%020d-%020d.jsonl", i*10, i*10+9)))
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	localDir := benchtab.Contender{
		Name:     "local directory",
		Settings: "100,000 empty files on the machine's disk file system; GNU ls",
		Run: func(m *benchtab.Measure) error {
			return m.Seconds("ls-l-warm-s", lines("ls -l "+local+" | wc -l", n+1))
		},
	}
	res := benchtab.Run(b, benchtab.Options{}, readIndex, mount, localDir)
	const note = "100,000 segments in one partition"
	fig := func(id, name, metric string, goal benchtab.Goal, note string) {
		res.Figure(benchtab.Figure{ID: id, Name: name, Unit: "s", Kbackup: res.Side(mount.Name, metric), Goal: goal, Note: note})
	}
	fig("ls-100k-segments-cold", "ls segments/ of 100,000 segments, fresh mount", "ls-cold-s", benchtab.AtMost(1, "issue 4"),
		"includes reading the index")
	fig("ls-100k-segments", "ls segments/ of 100,000 segments, warm", "ls-warm-s", benchtab.AtMost(1, "issue 4"), "")
	fig("ls-l-100k-segments-warm", "ls -l segments/ of 100,000 segments, warm", "ls-l-warm-s", benchtab.AtMost(1, "issue 13"),
		"getxattr answered ENOSYS: the kernel stops asking after the first; an unchanged listing is served from the kernel's cache (FOPEN_CACHE_DIR)")
	localLs := res.Side(localDir.Name, "ls-l-warm-s")
	res.Figure(benchtab.Figure{ID: "ls-l-100k-segments-vs-local", Name: "ls -l of 100,000 segments, warm, vs 100,000 files in a local directory", Unit: "s",
		Kbackup: res.Side(mount.Name, "ls-l-warm-s"), Peer: &localLs})
	res.Figure(benchtab.Figure{ID: "stat-100k-segments", Name: "stat records.jsonl of 100,000 segments", Unit: "ms",
		Kbackup: res.Side(mount.Name, "stat-ms")})
	res.Figure(benchtab.Figure{ID: "read-index-100k", Name: "store.ReadIndex of 100,000 entries", Unit: "s",
		Kbackup: res.Side(readIndex.Name, "s"), Note: note})
}

// BenchmarkCatMemory reads records.jsonl of a partition of about 400 MB
// through the mount (in this process) and reports the peak Go heap and the
// peak RSS of the process during the read; they must not grow with the
// partition (see TestCatBoundedHeap and docs/mount.md). Issue 4 asks for
// RSS under 200 MiB while reading 5 GiB.
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
	var base uint64
	cat := benchtab.Contender{
		Name:     "cat records.jsonl",
		Settings: "through the mount served by the benchmark process, 128 KiB reads; heap sampled every 5 ms",
		Run: func(m *benchtab.Measure) error {
			h := sampleHeap(5 * time.Millisecond)
			var n int64
			_ = m.MBps("MB/s", fi.Size(), func() error { n = catFile(b, file); return nil })
			m.Set("peak-heap-MiB", float64(h.Stop())/(1<<20))
			m.Set("peak-rss-MiB", float64(h.rss)/(1<<20))
			base = h.base
			if n != fi.Size() {
				return fmt.Errorf("read %d bytes, want %d", n, fi.Size())
			}
			return nil
		},
	}
	res := benchtab.Run(b, benchtab.Options{}, cat)
	note := fmt.Sprintf("%.0f MiB file; Go heap %.1f MiB before reading", float64(fi.Size())/(1<<20), float64(base)/(1<<20))
	res.Figure(benchtab.Figure{ID: "cat-peak-rss", Name: "peak RSS while cat reads records.jsonl", Unit: "MiB",
		Kbackup: res.Side(cat.Name, "peak-rss-MiB"), Goal: benchtab.AtMost(200, "issue 4"), Note: note + "; RSS of the whole test process"})
	res.Figure(benchtab.Figure{ID: "cat-peak-heap", Name: "peak Go heap while cat reads records.jsonl", Unit: "MiB",
		Kbackup: res.Side(cat.Name, "peak-heap-MiB"), Note: note})
}

// writeBigPartition stores partition 0 of loc as nseg segments of 16,000
// records of about 500 bytes (about 8 MB decoded each), 1 MiB blocks.
func writeBigPartition(tb testing.TB, st *store.Store, loc store.Loc, nseg int) {
	tb.Helper()
	appendIndex(tb, st, loc, writeBigSegments(tb, st, loc, 0, nseg)...)
}

// writeBigSegments writes nseg segments of partition p as writeBigPartition
// does and returns their entries, for one index append.
func writeBigSegments(tb testing.TB, st *store.Store, loc store.Loc, p int32, nseg int) []store.SegmentEntry {
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
		es = append(es, writeSegment(tb, st, loc, p, recs, 0, store.CodecZstd))
	}
	return es
}
