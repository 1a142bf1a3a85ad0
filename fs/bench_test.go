package fs

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	ix, err := st.ReadIndex(ctx, loc)
	if err != nil {
		return 0, err
	}
	var n int64
	var buf []byte
	for _, e := range ix.Partition(0) {
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
// cat does) with decoding the same partition straight to io.Discard.
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

	report := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(size)*float64(b.N)/time.Since(start).Seconds()/1e6, "MB/s")
	}
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(size)
		start := time.Now()
		for range b.N {
			if _, err := decodeTo(ctx, st, loc, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		report(b, start)
	})
	b.Run("fuse-records", func(b *testing.B) {
		b.SetBytes(size)
		start := time.Now()
		for range b.N {
			if n := catFile(b, rec, false); n != size {
				b.Fatalf("read %d bytes, want %d", n, size)
			}
		}
		report(b, start)
	})
	b.Run("fuse-segments-cold", func(b *testing.B) {
		// Segment files keep the page cache; drop it to measure decoding.
		names, err := os.ReadDir(seg)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		start := time.Now()
		for range b.N {
			var n int64
			for _, de := range names {
				n += catFile(b, filepath.Join(seg, de.Name()), true)
			}
			if n != size {
				b.Fatalf("read %d bytes, want %d", n, size)
			}
		}
		report(b, start)
	})
}

// catFile reads p with 128 KiB reads, as cat does; dropCache first evicts
// its pages so the data comes through FUSE.
func catFile(b testing.TB, p string, dropCache bool) int64 {
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if dropCache {
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			b.Fatal(err)
		}
	}
	n, err := io.CopyBuffer(io.Discard, onlyReader{f}, make([]byte, 128<<10))
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// onlyReader hides WriterTo/ReaderFrom so io.CopyBuffer uses the buffer.
type onlyReader struct{ io.Reader }
