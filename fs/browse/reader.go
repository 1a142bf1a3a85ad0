package browse

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/kbackup/kbackup/store"
)

// view is the fixed list of segments a decoded file shows: the JSON lines of
// each segment, one after the other.
type view struct {
	loc     store.Loc
	entries []store.SegmentEntry
	starts  []int64 // starts[i] is where segment i begins; starts[len] is the size
	stored  int64   // stored bytes of the segments
	records int64   // records of the segments
	id      uint64  // content identity: size and segment names (contentID)
}

func newView(loc store.Loc, entries []store.SegmentEntry) *view {
	v := &view{loc: loc, entries: entries, starts: make([]int64, len(entries)+1)}
	for i := range entries {
		v.starts[i+1] = v.starts[i] + entries[i].DecodedBytes
		v.stored += entries[i].StoredBytes
		v.records += entries[i].Records
	}
	v.id = contentID(v)
	return v
}

// contentID identifies the bytes a view reads: an FNV-64a hash of the
// decoded size and every segment's name and decoded size, in order.
// Segments never change, so two views with the same identity read the same
// bytes; a view that grew, lost expired segments or had segments merged
// gets another. It is never zero.
func contentID(v *view) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v.size()))
	h.Write(b[:])
	for i := range v.entries {
		h.Write([]byte(v.entries[i].ULID))
		binary.LittleEndian.PutUint64(b[:], uint64(v.entries[i].DecodedBytes))
		h.Write(b[:])
		// An expiry set by retention changes what a read of the segment's
		// range means once the object is gone (EIO logged as retention,
		// not as damage): a new version, read without the old pages.
		var exp int64
		if x := v.entries[i].Expires; x != nil {
			exp = x.UnixNano()
		}
		binary.LittleEndian.PutUint64(b[:], uint64(exp))
		h.Write(b[:])
	}
	return max(h.Sum64(), 1)
}

// size returns the exact decoded size.
func (v *view) size() int64 { return v.starts[len(v.entries)] }

// segmentAt returns the segment holding decoded byte off.
func (v *view) segmentAt(off int64) int {
	return sort.Search(len(v.entries), func(i int) bool { return v.starts[i+1] > off })
}

// segmentOpener opens a segment's footer; *store.Store satisfies it.
type segmentOpener interface {
	OpenSegment(ctx context.Context, loc store.Loc, id string, size int64) (*store.SegmentReader, error)
}

// recordReader serves reads of a view at any offset, decoding one block at
// a time. It keeps one open segment and its last two decoded blocks: the
// kernel's read-ahead sends requests for neighbouring blocks at once, and
// with one block they would take turns decoding it again. Memory is
// bounded by a few blocks. It is safe for concurrent use.
type recordReader struct {
	ctx   context.Context // lives as long as the open file
	st    segmentOpener
	v     *view
	now   func() time.Time
	log   *slog.Logger
	stats *Stats

	mu       sync.Mutex
	seg      int // index of sr's segment, -1 if none
	sr       *store.SegmentReader
	cur, old decodedBlock // the last decoded block and the one before
	raw      []byte
}

// decodedBlock is block blk of segment seg as JSON lines, which begin at
// decoded position start within the segment; blk is -1 when empty.
type decodedBlock struct {
	seg, blk int
	start    int64
	lines    []byte
}

// holds reports whether d holds decoded position rel of segment i.
func (d *decodedBlock) holds(i int, rel int64) bool {
	return d.blk >= 0 && d.seg == i && rel >= d.start && rel < d.start+int64(len(d.lines))
}

func newRecordReader(ctx context.Context, st segmentOpener, v *view, now func() time.Time, log *slog.Logger, s *Stats) *recordReader {
	return &recordReader{ctx: ctx, st: st, v: v, now: now, log: log, stats: s, seg: -1,
		cur: decodedBlock{blk: -1}, old: decodedBlock{blk: -1}}
}

// ReadAt fills p from decoded byte off. It returns io.EOF at the end of the
// view.
func (r *recordReader) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		if off >= r.v.size() {
			return n, io.EOF
		}
		i := r.v.segmentAt(off)
		rel := off - r.v.starts[i]
		if err := r.load(i, rel); err != nil {
			return n, err
		}
		c := copy(p[n:], r.cur.lines[rel-r.cur.start:])
		n += c
		off += int64(c)
	}
	return n, nil
}

// load makes r.cur the decoded block of segment i holding position rel.
func (r *recordReader) load(i int, rel int64) error {
	if r.cur.holds(i, rel) {
		return nil
	}
	if r.old.holds(i, rel) {
		r.cur, r.old = r.old, r.cur
		return nil
	}
	if r.seg != i {
		if err := r.open(i); err != nil {
			return err
		}
	}
	e := &r.v.entries[i]
	b, start := r.sr.BlockForDecodedPos(rel)
	if b >= len(r.sr.Info.Blocks) {
		return fmt.Errorf("%w: segment %s has no block at decoded byte %d", store.ErrCorrupt, e.ULID, rel)
	}
	// Decode into the older slot, which becomes the current one.
	d := &r.old
	d.blk = -1
	r.stats.Blocks.Add(1)
	raw, err := r.sr.ReadBlock(b, r.raw[:0])
	if err != nil {
		return r.gone(e, err)
	}
	r.raw = raw
	bi := r.sr.Info.Blocks[b]
	lines := d.lines[:0]
	err = store.DecodeBlock(raw, bi.FirstOffset, func(rec *store.Record) error {
		lines = store.AppendJSONLine(lines, rec)
		return nil
	})
	d.lines = lines
	if err != nil {
		return fmt.Errorf("decode block %d of segment %s: %w", b, e.ULID, err)
	}
	if int64(len(lines)) != bi.DecodedBytes {
		return fmt.Errorf("%w: block %d of segment %s decodes to %d bytes, footer says %d", store.ErrCorrupt, b, e.ULID, len(lines), bi.DecodedBytes)
	}
	d.seg, d.blk, d.start = i, b, start
	r.cur, r.old = r.old, r.cur
	return nil
}

// open opens segment i's footer and checks it against the index.
func (r *recordReader) open(i int) error {
	e := &r.v.entries[i]
	r.seg, r.sr = -1, nil
	r.stats.Segments.Add(1)
	sr, err := r.st.OpenSegment(r.ctx, r.v.loc, e.ULID, e.StoredBytes)
	if err != nil {
		return r.gone(e, err)
	}
	if sr.Info.DecodedBytes != e.DecodedBytes {
		return fmt.Errorf("%w: segment %s decodes to %d bytes, index says %d", store.ErrCorrupt, e.ULID, sr.Info.DecodedBytes, e.DecodedBytes)
	}
	r.seg, r.sr = i, sr
	return nil
}

// gone classifies a failure to read segment e: a missing object becomes
// ErrDataGone (EIO), logged with whether retention explains it.
func (r *recordReader) gone(e *store.SegmentEntry, err error) error {
	if !store.IsNotFound(err) {
		return fmt.Errorf("read segment %s: %w", e.ULID, err)
	}
	key := r.v.loc.SegmentKey(e.ULID)
	if e.Expired(r.now()) {
		r.log.Warn("segment expired and was deleted by retention", "segment", key, "expired", e.Expires)
	} else {
		r.log.Error("segment named by the index is missing from storage", "segment", key)
	}
	return fmt.Errorf("%w: %s: %v", ErrDataGone, key, err)
}
