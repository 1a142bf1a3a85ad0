package store

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	m, err := w.r.ReadAt(buf, start)
	if m < len(buf) {
		if err == nil || errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: object shorter than its indexed size %d", ErrCorrupt, w.size)
		}
		return 0, err
	}
	w.buf, w.off = buf, start
	return copy(p, w.buf[off-start:]), nil
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
