package browse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// readerFixture writes one partition of 4 segments of 60 records, in
// blocks of about 300 raw bytes (several per segment), and returns a
// recordReader of it, the JSON lines it must read, the counters it keeps
// and the store's segments.
type readerFixture struct {
	st    *store.Store
	loc   store.Loc
	segs  []store.SegmentEntry
	lines []byte
	stats Stats
}

func newReaderFixture(t *testing.T) (*readerFixture, *recordReader) {
	t.Helper()
	ctx := context.Background()
	st := storetest.OpenTemp(t)
	f := &readerFixture{st: st, loc: store.Loc{Topic: "reads", Version: 1}}
	l, err := st.AcquireLease(ctx, f.loc.Topic, "reader_test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	for s := range 4 {
		up, err := st.CreateSegment(ctx, l, f.loc, store.SegmentOptions{ID: fmt.Sprintf("01READ%020d", s), Start: int64(s * 60), Codec: store.CodecZstd, BlockSize: 300})
		if err != nil {
			t.Fatal(err)
		}
		for o := s * 60; o < (s+1)*60; o++ {
			r := store.Record{Offset: int64(o), Timestamp: baseTime.Add(time.Duration(o) * time.Second),
				Key: []byte(fmt.Sprintf("k%d", o)), Value: []byte(fmt.Sprintf(`{"o":%d,"pad":"%032d"}`, o, o))}
			if err := up.Append(&r); err != nil {
				t.Fatal(err)
			}
			f.lines = store.AppendJSONLine(f.lines, &r)
		}
		e, err := up.Commit()
		if err != nil {
			t.Fatal(err)
		}
		f.segs = append(f.segs, e)
	}
	return f, f.reader()
}

// reader returns a new recordReader of the fixture's partition.
func (f *readerFixture) reader() *recordReader {
	var raws, pool sync.Pool
	return newRecordReader(context.Background(), f.st, newView(f.loc, f.segs), time.Now, slog.New(slog.DiscardHandler), &f.stats, &raws, &pool)
}

// blocks counts the blocks of the fixture's segments.
func (f *readerFixture) blocks(t *testing.T) (n int64, perSegment []int) {
	t.Helper()
	for _, e := range f.segs {
		sr, err := f.st.OpenSegment(context.Background(), f.loc, e.ULID, e.StoredBytes)
		if err != nil {
			t.Fatal(err)
		}
		n += int64(len(sr.Info.Blocks))
		perSegment = append(perSegment, len(sr.Info.Blocks))
	}
	return n, perSegment
}

// TestReaderDecodesEachBlockOnce reads a partition front to back as the
// kernel's read-ahead does: requests for neighbouring ranges two at a
// time, often needing the same block. A block being decoded for one
// request must be waited for by the other, not decoded again.
func TestReaderDecodesEachBlockOnce(t *testing.T) {
	f, r := newReaderFixture(t)
	want := f.lines
	const chunk = 97 // smaller than any block's lines: pairs often share a block
	got := make([]byte, len(want))
	for off := 0; off < len(want); off += 2 * chunk {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for k := range 2 {
			lo := off + k*chunk
			if lo >= len(want) {
				break
			}
			hi := min(lo+chunk, len(want))
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := r.ReadAt(got[lo:hi], int64(lo))
				if n != hi-lo {
					errs[k] = fmt.Errorf("ReadAt(%d, %d bytes) = %d, %v", lo, hi-lo, n, err)
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != string(want) {
		t.Fatal("read bytes differ from the partition's JSON lines")
	}
	blocks, per := f.blocks(t)
	if per[0] < 3 {
		t.Fatalf("fixture segments have %v blocks; the test needs several", per)
	}
	if n := f.stats.Blocks.Load(); n != blocks {
		t.Errorf("decoded %d blocks to read %d blocks once: concurrent requests decoded blocks again", n, blocks)
	}
	if n := f.stats.Segments.Load(); n != int64(len(f.segs)) {
		t.Errorf("opened %d segment footers for %d segments", n, len(f.segs))
	}
}

// TestReaderCloseWhileReading closes the reader again and again while
// readers read at random offsets: every read still gets exactly the right
// bytes (Close only hands back buffers no read holds), and the race
// detector sees no buffer shared between a reader and its next owner.
func TestReaderCloseWhileReading(t *testing.T) {
	f, r := newReaderFixture(t)
	want := f.lines
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = r.Close()
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	errs := make(chan error, 6)
	var readers sync.WaitGroup
	for g := range 6 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 11))
			for range 400 {
				off := rnd.Int64N(int64(len(want)))
				b := make([]byte, 1+rnd.IntN(900))
				n, err := r.ReadAt(b, off)
				end := min(int64(len(want)), off+int64(len(b)))
				if err != nil && err != io.EOF || string(b[:n]) != string(want[off:end]) {
					errs <- fmt.Errorf("ReadAt(%d, %d bytes) = %d bytes, %v: wrong bytes or error", off, len(b), n, err)
					return
				}
			}
		}()
	}
	readers.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestReaderRetriesFailedBlock makes a block's read fail (its segment's
// object gone after the footer was read), then brings the object back: the
// failure is an EIO-class error, and is not remembered, so the next read of
// the same range gets the right bytes.
func TestReaderRetriesFailedBlock(t *testing.T) {
	f, r := newReaderFixture(t)
	want, v := f.lines, r.v
	// Read the first byte: segment 0's footer is now open.
	if _, err := r.ReadAt(make([]byte, 1), 0); err != nil {
		t.Fatal(err)
	}
	e := v.entries[0]
	obj := filepath.Join(f.st.URL(), filepath.FromSlash(f.loc.SegmentKey(e.ULID)))
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatalf("the fixture's segment is not where the file store keeps it: %v", err)
	}
	if err := os.Remove(obj); err != nil {
		t.Fatal(err)
	}
	// The last byte of segment 0 is in its last block, not yet decoded.
	last := v.starts[1] - 1
	if _, err := r.ReadAt(make([]byte, 1), last); !errors.Is(err, ErrDataGone) {
		t.Fatalf("read of a block whose object is gone: %v, want ErrDataGone", err)
	}
	if err := os.WriteFile(obj, data, 0o600); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := r.ReadAt(b, last); err != nil || b[0] != want[last] {
		t.Fatalf("read after the object came back = %q, %v; want %q: the failure was remembered", b, err, want[last:last+1])
	}
}

// TestReaderKeepsFewBlocks reads a partition at random from many goroutines
// and checks that the reader keeps at most maxDecoded blocks between reads:
// its memory does not grow with the file.
func TestReaderKeepsFewBlocks(t *testing.T) {
	f, r := newReaderFixture(t)
	want := f.lines
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 3))
			for range 200 {
				off := rnd.Int64N(int64(len(want)))
				_, _ = r.ReadAt(make([]byte, 64), off)
			}
		}()
	}
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.blocks) > maxDecoded {
		t.Fatalf("reader keeps %d decoded blocks, at most %d allowed", len(r.blocks), maxDecoded)
	}
	refs := make([]int, 0, len(r.blocks))
	for _, d := range r.blocks {
		refs = append(refs, d.refs)
	}
	sort.Ints(refs)
	if len(refs) > 0 && refs[len(refs)-1] != 0 {
		t.Fatalf("blocks still held after every read returned: refs %v", refs)
	}
}
