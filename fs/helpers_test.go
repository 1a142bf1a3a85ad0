package fs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/store"
)

// lease takes topic's lease for a test's writes; the caller releases it.
func lease(tb testing.TB, st *store.Store, topic string) *store.Lease {
	tb.Helper()
	l, err := st.AcquireLease(context.Background(), topic, "fs test", time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// writeManifest writes m under its topic's lease.
func writeManifest(tb testing.TB, st *store.Store, m *store.Manifest) {
	tb.Helper()
	l := lease(tb, st, m.Topic)
	defer l.Release(context.Background())
	if err := st.WriteManifest(context.Background(), l, m); err != nil {
		tb.Fatal(err)
	}
}

// writeIndex replaces loc's index with entries under its topic's lease.
func writeIndex(tb testing.TB, st *store.Store, loc store.Loc, entries []store.SegmentEntry) {
	tb.Helper()
	l := lease(tb, st, loc.Topic)
	defer l.Release(context.Background())
	if err := st.WriteIndex(context.Background(), l, loc, entries); err != nil {
		tb.Fatal(err)
	}
}

// requireFUSE skips, loudly, when the machine cannot mount FUSE.
func requireFUSE(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		tb.Skipf("SKIPPING FUSE TEST: /dev/fuse is absent (%v); these tests need a real mount", err)
	}
}

func openStore(tb testing.TB) (*store.Store, string) {
	tb.Helper()
	dir := tb.TempDir()
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st, dir
}

var segSeq atomic.Int64

// writeSegment stores recs as one segment of partition p in loc and returns
// its index entry (not yet appended).
func writeSegment(tb testing.TB, st *store.Store, loc store.Loc, p int32, recs []store.Record, blockSize int, codec store.Codec) store.SegmentEntry {
	tb.Helper()
	ctx := context.Background()
	id := fmt.Sprintf("01TEST%020d", segSeq.Add(1))
	l := lease(tb, st, loc.Topic)
	defer l.Release(ctx)
	up, err := st.CreateSegment(ctx, l, loc, store.SegmentOptions{ID: id, Partition: p, Start: recs[0].Offset, Codec: codec, BlockSize: blockSize})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range recs {
		if err := up.Append(&recs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	e, err := up.Commit()
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func appendIndex(tb testing.TB, st *store.Store, loc store.Loc, es ...store.SegmentEntry) {
	tb.Helper()
	ctx := context.Background()
	l := lease(tb, st, loc.Topic)
	defer l.Release(ctx)
	iw, err := st.OpenIndexWriter(ctx, l, loc)
	if err != nil {
		tb.Fatal(err)
	}
	if err := iw.Append(ctx, es...); err != nil {
		tb.Fatal(err)
	}
}

var baseTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// genRecords makes n records of partition p from offset from, covering
// binary keys, null keys and values, headers with null values and text that
// needs escaping.
func genRecords(p int32, from int64, n int) []store.Record {
	recs := make([]store.Record, n)
	for i := range recs {
		off := from + int64(i)
		r := store.Record{
			Offset:    off,
			Timestamp: baseTime.Add(time.Duration(off) * time.Second),
			Key:       []byte(fmt.Sprintf("key-%d-%d", p, off)),
			Value:     []byte(fmt.Sprintf(`{"n":%d,"text":"line \"%d\"\nnext ünïcode"}`, off, off)),
		}
		switch {
		case off%7 == 3:
			r.Key = []byte{0xff, 0x00, byte(off), 0xfe}
		case off%11 == 5:
			r.Key = nil
		}
		if off%5 == 2 {
			r.Value = nil
		}
		if off%13 == 4 {
			r.TimestampType = store.TimestampLogAppend
		}
		if off%3 == 0 {
			r.Headers = []store.Header{{Key: "trace", Value: []byte(fmt.Sprint(off))}, {Key: "nil", Value: nil}, {Key: "bin", Value: []byte{0x80, 0x81}}}
		}
		recs[i] = r
	}
	return recs
}

// jsonLines renders recs the way the mount must show them.
func jsonLines(recs []store.Record) []byte {
	var b []byte
	for i := range recs {
		b = store.AppendJSONLine(b, &recs[i])
	}
	return b
}

// mountStore mounts st at a fresh directory and unmounts on cleanup.
func mountStore(tb testing.TB, st *store.Store, opts Options) string {
	tb.Helper()
	requireFUSE(tb)
	mp := tb.TempDir()
	srv, err := Mount(context.Background(), st, mp, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		var err error
		for range 50 {
			if err = srv.Unmount(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		tb.Errorf("unmount: %v", err)
	})
	return mp
}

// run runs a command (through sh when it has one argument) and returns its
// stdout; it fails the test on error.
func run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func sh(tb testing.TB, script string) string {
	tb.Helper()
	return run(tb, "sh", "-c", script)
}

// segmentName is the name of e's file in segments/.
func segmentName(e *store.SegmentEntry) string {
	return browse.SegmentName(e.FirstOffset, e.LastOffset)
}
