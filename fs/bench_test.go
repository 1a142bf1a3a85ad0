package fs

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sync/errgroup"

	"golang.org/x/sys/unix"

	"github.com/kbackup/kbackup/integration/benchtab"
	"github.com/kbackup/kbackup/store"
)

// benchBackup stores one partition of about 64 MB of JSON lines in 8
// segments of 1 MiB blocks.
func benchBackup(b *testing.B) (*store.Store, store.Loc) {
	b.Helper()
	st, _ := openStore(b)
	loc := store.Loc{Topic: "bench"}
	writeBigPartition(b, st, loc, 8)
	return st, loc
}

// decodeTo writes every record of partition 0 of loc to w as JSON lines,
// without FUSE: the baseline for reading records.jsonl through the mount.
func decodeTo(ctx context.Context, st *store.Store, loc store.Loc, w io.Writer) (int64, error) {
	return decodePartitionTo(ctx, st, loc, 0, w)
}

// decodePartitionTo is decodeTo for partition p.
func decodePartitionTo(ctx context.Context, st *store.Store, loc store.Loc, p int32, w io.Writer) (int64, error) {
	ix, err := st.ReadIndex(ctx, loc)
	if err != nil {
		return 0, err
	}
	var n int64
	var buf []byte
	for _, e := range ix.Partition(p) {
		sr, err := st.OpenSegment(ctx, loc, e.ULID, e.StoredBytes)
		if err != nil {
			return n, err
		}
		err = sr.Records(0, func(r *store.Record) error {
			buf = store.AppendJSONLine(buf[:0], r)
			k, err := w.Write(buf)
			n += int64(k)
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// BenchmarkCatRecords compares reading records.jsonl through the mount (as
// cat does, 128 KiB reads) with decoding the same partition straight to
// io.Discard in-process, and reading the segment files with their page
// cache dropped. The contenders warm up once and alternate (benchtab).
func BenchmarkCatRecords(b *testing.B) {
	requireFUSE(b)
	st, loc := benchBackup(b)
	ctx := context.Background()
	size, err := decodeTo(ctx, st, loc, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	mp := mountStore(b, st, Options{})
	rec := filepath.Join(mp, "topics/bench/snapshots/v0/0/records.jsonl")
	seg := filepath.Join(mp, "topics/bench/snapshots/v0/0/segments")
	names, err := os.ReadDir(seg)
	if err != nil {
		b.Fatal(err)
	}
	wantSize := func(n int64) error {
		if n != size {
			return fmt.Errorf("read %d bytes, want %d", n, size)
		}
		return nil
	}

	direct := benchtab.Contender{
		Name:     "direct decoding",
		Settings: "JSON lines to io.Discard, in-process, no FUSE",
		Run: func(m *benchtab.Measure) error {
			var n int64
			if err := m.MBps("MB/s", size, func() (err error) { n, err = decodeTo(ctx, st, loc, io.Discard); return err }); err != nil {
				return err
			}
			return wantSize(n)
		},
	}
	records := benchtab.Contender{
		Name:     "cat records.jsonl",
		Settings: "through the mount, page cache dropped first, 128 KiB reads",
		Run: func(m *benchtab.Measure) error {
			var n int64
			dropCache(b, rec)
			_ = m.MBps("MB/s", size, func() error { n = catFile(b, rec); return nil })
			return wantSize(n)
		},
	}
	segments := benchtab.Contender{
		Name:     "cat segments/*",
		Settings: "through the mount, page cache dropped first, 128 KiB reads",
		Run: func(m *benchtab.Measure) error {
			var n int64
			paths := make([]string, len(names))
			for i, de := range names {
				paths[i] = filepath.Join(seg, de.Name())
			}
			dropCache(b, paths...)
			_ = m.MBps("MB/s", size, func() error {
				for _, p := range paths {
					n += catFile(b, p)
				}
				return nil
			})
			return wantSize(n)
		},
	}
	res := benchtab.Run(b, benchtab.Options{}, direct, records, segments)
	note := fmt.Sprintf("%.0f MB of JSON lines, 8 zstd segments, file storage", float64(size)/1e6)
	directSide := res.Side(direct.Name, "MB/s")
	res.Figure(benchtab.Figure{ID: "mount-cat-records", Name: "mount: cat records.jsonl vs direct decoding", Unit: "MB/s",
		Kbackup: res.Side(records.Name, "MB/s"), Peer: &directSide, Goal: benchtab.AtLeast(0.7, "issue 4"), Note: note})
	res.Figure(benchtab.Figure{ID: "mount-cat-segments", Name: "mount: cat segments/* (uncached) vs direct decoding", Unit: "MB/s",
		Kbackup: res.Side(segments.Name, "MB/s"), Peer: &directSide, Note: note})
}

// catFile reads p with 128 KiB reads, as cat does.
func catFile(b testing.TB, p string) int64 {
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(io.Discard, onlyReader{f}, make([]byte, 128<<10))
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// dropCache evicts the cached pages of the files ps, so that the next read
// of them comes through FUSE. Benchmarks call it before they start the
// clock: evicting 70 MB of pages takes milliseconds that no reader of a
// file not yet read pays.
func dropCache(b testing.TB, ps ...string) {
	for _, p := range ps {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// onlyReader hides WriterTo/ReaderFrom so io.CopyBuffer uses the buffer.
type onlyReader struct{ io.Reader }

// BenchmarkCatParallel reads the records.jsonl of 4 partitions through the
// mount one after the other and all at once (4 cats), beside decoding
// the 4 partitions in-process on 4 goroutines, and all at once with the
// process held to one core: how reading scales with cores (issue 13). The
// page cache is dropped before each round.
func BenchmarkCatParallel(b *testing.B) {
	requireFUSE(b)
	const parts = 4
	st, _ := openStore(b)
	loc := store.Loc{Topic: "wide"}
	var es []store.SegmentEntry
	for p := range int32(parts) {
		es = append(es, writeBigSegments(b, st, loc, p, 2)...)
	}
	appendIndex(b, st, loc, es...)
	ctx := context.Background()
	var size int64
	for p := range int32(parts) {
		n, err := decodePartitionTo(ctx, st, loc, p, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		size += n
	}
	mp := mountStore(b, st, Options{})
	files := make([]string, parts)
	for p := range files {
		files[p] = filepath.Join(mp, fmt.Sprintf("topics/wide/snapshots/v0/%d/records.jsonl", p))
	}
	// measure times read, which returns how many bytes it read, and
	// checks that it read them all.
	measure := func(m *benchtab.Measure, read func() (int64, error)) error {
		var n int64
		if err := m.MBps("MB/s", size, func() (err error) { n, err = read(); return err }); err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("read %d bytes, want %d", n, size)
		}
		return nil
	}
	// all runs f(p) for every partition at once and sums what they read.
	all := func(f func(p int) (int64, error)) (int64, error) {
		var g errgroup.Group
		ns := make([]int64, parts)
		for p := range parts {
			g.Go(func() (err error) { ns[p], err = f(p); return err })
		}
		err := g.Wait()
		var n int64
		for _, k := range ns {
			n += k
		}
		return n, err
	}
	direct := benchtab.Contender{
		Name:     "direct decoding, 4 partitions at once",
		Settings: "JSON lines to io.Discard, in-process on 4 goroutines, no FUSE",
		Run: func(m *benchtab.Measure) error {
			return measure(m, func() (int64, error) {
				return all(func(p int) (int64, error) { return decodePartitionTo(ctx, st, loc, int32(p), io.Discard) })
			})
		},
	}
	// catAll cats every partition's records.jsonl at once.
	catAll := func() (int64, error) {
		return all(func(p int) (int64, error) { return catFile(b, files[p]), nil })
	}
	parallel := benchtab.Contender{
		Name:     "cat of 4 records.jsonl at once",
		Settings: "through the mount, 4 readers, page cache dropped first, 128 KiB reads",
		Run: func(m *benchtab.Measure) error {
			dropCache(b, files...)
			return measure(m, catAll)
		},
	}
	serial := benchtab.Contender{
		Name:     "cat of 4 records.jsonl in turn",
		Settings: "through the mount, one reader, page cache dropped first, 128 KiB reads",
		Run: func(m *benchtab.Measure) error {
			dropCache(b, files...)
			return measure(m, func() (int64, error) {
				var n int64
				for _, f := range files {
					n += catFile(b, f)
				}
				return n, nil
			})
		},
	}
	// The same 4 cats with the whole process (mount, readers and the
	// kernel's work for them) held to one core: how reading scales from
	// one core to all of them. On a machine of one core Go runs one
	// goroutine at a time (GOMAXPROCS 1); the second contender keeps this
	// machine's GOMAXPROCS, to tell the CPU the reads cost from the time
	// lost waiting across cores.
	onCore := func(procs int) func(m *benchtab.Measure) error {
		return func(m *benchtab.Measure) error {
			dropCache(b, files...)
			defer pinProcess(b, 1)()
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			return measure(m, catAll)
		}
	}
	oneCore := benchtab.Contender{
		Name:     "cat of 4 records.jsonl at once on 1 core",
		Settings: "as at once, every thread of the process pinned to one CPU, GOMAXPROCS 1",
		Run:      onCore(1),
	}
	oneCoreSameProcs := benchtab.Contender{
		Name:     "cat of 4 records.jsonl at once on 1 core, same GOMAXPROCS",
		Settings: fmt.Sprintf("as at once, every thread of the process pinned to one CPU, GOMAXPROCS %d", runtime.GOMAXPROCS(0)),
		Run:      onCore(runtime.GOMAXPROCS(0)),
	}
	res := benchtab.Run(b, benchtab.Options{}, direct, parallel, serial, oneCore, oneCoreSameProcs)
	note := fmt.Sprintf("%d partitions of %.0f MB of JSON lines each, 2 zstd segments each, file storage", parts, float64(size)/parts/1e6)
	directSide, serialSide := res.Side(direct.Name, "MB/s"), res.Side(serial.Name, "MB/s")
	oneSide, oneSameSide := res.Side(oneCore.Name, "MB/s"), res.Side(oneCoreSameProcs.Name, "MB/s")
	cores := runtime.NumCPU()
	res.Figure(benchtab.Figure{ID: "mount-cat-parallel", Name: "mount: cat of 4 partitions at once vs direct decoding at once", Unit: "MB/s",
		Kbackup: res.Side(parallel.Name, "MB/s"), Peer: &directSide, Goal: benchtab.AtLeast(0.7, "issue 13"), Note: note})
	res.Figure(benchtab.Figure{ID: "mount-cat-parallel-scaling", Name: "mount: cat of 4 partitions at once vs in turn", Unit: "MB/s",
		Kbackup: res.Side(parallel.Name, "MB/s"), Peer: &serialSide, Note: note + "; one cat already decodes on every core"})
	// Perfect scaling is the number of cores; 0.8 of it is the goal.
	res.Figure(benchtab.Figure{ID: "mount-cat-cores", Name: fmt.Sprintf("mount: cat of 4 partitions at once, %d cores vs 1 core", cores), Unit: "MB/s",
		Kbackup: res.Side(parallel.Name, "MB/s"), Peer: &oneSide, Goal: benchtab.AtLeast(0.8*float64(cores), "issue 13: scale with cores"), Note: note})
	res.Figure(benchtab.Figure{ID: "mount-cat-cores-same-procs", Name: fmt.Sprintf("mount: cat of 4 partitions at once, %d cores vs 1 core at GOMAXPROCS %d", cores, runtime.GOMAXPROCS(0)), Unit: "MB/s",
		Kbackup: res.Side(parallel.Name, "MB/s"), Peer: &oneSameSide, Note: note + "; the same GOMAXPROCS on both sides: what the reads cost in CPU, beside the time lost waiting across cores"})
}
