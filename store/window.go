package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// walkWindow is how much of a segment a walk (restore, verify, compaction)
// fetches in one ranged read: a segment of up to walkWindow bytes is read
// whole in one request, footer included, and a larger one in one request
// per walkWindow of blocks instead of one per block (a 64 MiB segment of
// JSON holds about 300 blocks of 200 KiB). Sixteen partitions restored at
// once hold 128 MiB of windows.
const walkWindow = 8 << 20

// windowReader serves reads of one object from its last window: a ranged
// read of up to cap(buf) bytes from the first byte asked, or the whole
// object when it fits. A read larger than the window goes straight to r.
type windowReader struct {
	r    io.ReaderAt
	size int64
	buf  []byte // the window's bytes; cap is the window size
	off  int64  // object offset of buf[0]
}

// ReadAt implements io.ReaderAt.
func (w *windowReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= w.off && off+int64(len(p)) <= w.off+int64(len(w.buf)) {
		return copy(p, w.buf[off-w.off:]), nil
	}
	if len(p) > cap(w.buf) || off < 0 || off+int64(len(p)) > w.size {
		return w.r.ReadAt(p, off)
	}
	start, n := off, min(int64(cap(w.buf)), w.size-off)
	if w.size <= int64(cap(w.buf)) {
		start, n = 0, w.size // the whole object: footer and blocks in one read
	}
	buf := w.buf[:n]
	w.buf = w.buf[:0]
	if err := readWindow(w.r, buf, start, w.size); err != nil {
		return 0, err
	}
	w.buf, w.off = buf, start
	return copy(p, w.buf[off-start:]), nil
}

// readWindow fills buf from r at off; an object that ends before buf
// does is shorter than the size its index gives (size) and corrupt.
func readWindow(r io.ReaderAt, buf []byte, off, size int64) error {
	m, err := r.ReadAt(buf, off)
	if m < len(buf) {
		if err == nil || errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: object shorter than its indexed size %d", ErrCorrupt, size)
		}
		return err
	}
	return nil
}

// openWindowed opens segment e of loc like OpenSegment, reading it through
// a window of win's capacity (reused from one segment to the next).
func (s *Store) openWindowed(ctx context.Context, loc Loc, e *SegmentEntry, win []byte) (*SegmentReader, error) {
	key := loc.segmentKey(e.ULID)
	wr := &windowReader{r: &rangeReader{ctx: ctx, b: s.b, key: key}, size: e.StoredBytes, buf: win[:0]}
	sr, err := openSegmentReader(wr, e.StoredBytes, s.segKeys(e.ULID))
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", key, err)
	}
	return sr, nil
}

// Read-ahead of a segment read in order (OpenSegmentReadAhead): the window
// starts at minReadAhead once two reads follow each other and doubles with
// each further one up to maxReadAhead, like the kernel's read-ahead.
const (
	minReadAhead = 1 << 20
	maxReadAhead = walkWindow
)

// readAheadReader serves reads of one object that is read mostly in order,
// by concurrent readers, at any offset. A read that continues the last one
// (or lands a little past it, as parallel readers do) is served from a
// window fetched in one ranged read, which grows while reads stay in order.
// A read a little behind the last one (a straggler of parallel readers)
// goes straight to r and changes nothing; any other read goes straight to
// r and shrinks the window to nothing, so a random reader (tail, a seek)
// fetches only what it asks for. It is safe
// for concurrent use: a read that needs the window being fetched waits for
// it instead of fetching the same bytes.
type readAheadReader struct {
	r    io.ReaderAt
	size int64

	mu   sync.Mutex
	buf  []byte // the window's bytes
	off  int64  // object offset of buf[0]
	next int64  // end of the last read
	win  int64  // size of the next window; 0 until reads follow each other
}

// ReadAt implements io.ReaderAt.
func (w *readAheadReader) ReadAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	end := off + int64(len(p))
	if off >= w.off && end <= w.off+int64(len(w.buf)) {
		w.next = max(w.next, end)
		return copy(p, w.buf[off-w.off:]), nil
	}
	if off < 0 || end > w.size {
		return w.r.ReadAt(p, off)
	}
	if w.win > 0 && off < w.next && off >= w.next-2*maxReadAhead {
		// A straggler: parallel readers took the blocks after it first.
		// It is fetched alone, and the reads in order go on as they were.
		return w.r.ReadAt(p, off)
	}
	inOrder := off >= w.next && off <= w.next+max(w.win, minReadAhead)
	w.next = end
	if !inOrder {
		w.win = 0
		return w.r.ReadAt(p, off)
	}
	w.win = min(max(2*w.win, minReadAhead), maxReadAhead)
	n := max(min(w.win, w.size-off), int64(len(p)))
	if rest := w.size - off; rest <= w.win+w.win/2 {
		n = rest // rather than a last, small window
	}
	buf := w.buf[:0]
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	w.buf = w.buf[:0] // not valid while it is refilled
	if err := readWindow(w.r, buf, off, w.size); err != nil {
		return 0, err
	}
	w.buf, w.off = buf, off
	return copy(p, buf), nil
}

// OpenSegmentReadAhead is OpenSegment for a segment read mostly in order
// (the mount's files): blocks read one after the other are fetched in
// windows of up to 8 MiB instead of one request each, while reads out of
// order fetch only what they ask for. The reader holds at most one window.
func (s *Store) OpenSegmentReadAhead(ctx context.Context, loc Loc, id string, size int64) (*SegmentReader, error) {
	key := loc.segmentKey(id)
	if size < 0 {
		return s.OpenSegment(ctx, loc, id, size)
	}
	ra := &readAheadReader{r: &rangeReader{ctx: ctx, b: s.b, key: key}, size: size}
	sr, err := openSegmentReader(ra, size, s.segKeys(id))
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", key, err)
	}
	return sr, nil
}
