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

// segmentOpener opens a segment's footer for reads mostly in order;
// *store.Store satisfies it.
type segmentOpener interface {
	OpenSegmentReadAhead(ctx context.Context, loc store.Loc, id string, size int64) (*store.SegmentReader, error)
}

// maxDecoded is how many decoded blocks a recordReader keeps. The kernel's
// read-ahead (4 MiB in the mount) keeps up to four 1 MiB requests in
// flight, and a request often spans the end of one block and the start of
// the next: with fewer slots, neighbouring requests would evict each
// other's blocks and decode them again.
const maxDecoded = 5

// recordReader serves reads of a view at any offset, decoding one block at
// a time. It keeps the footers of the last two segments read and the last
// maxDecoded decoded blocks. Blocks are decoded outside its lock, so
// concurrent requests for different blocks (the kernel's read-ahead)
// decode on different cores, while requests for a block being decoded wait
// for it instead of decoding it again. Memory is bounded by a few blocks.
// It is safe for concurrent use.
type recordReader struct {
	ctx   context.Context // lives as long as the open file
	st    segmentOpener
	v     *view
	now   func() time.Time
	log   *slog.Logger
	stats *Stats
	raws  *sync.Pool // *[]byte buffers for decompressed payloads, shared by the tree's readers
	pool  *sync.Pool // *[]byte buffers for decoded blocks, handed back by Close

	mu     sync.Mutex
	segs   [2]openSegment  // footers of the last segments read
	blocks []*decodedBlock // at most maxDecoded
	tick   uint64          // use counter, for least-recently-used eviction
}

// openSegment is the open footer of segment seg; sr is nil when empty.
type openSegment struct {
	seg  int
	sr   *store.SegmentReader
	used uint64
}

// decodedBlock is block blk of segment seg as JSON lines, which begin at
// decoded position start within the segment. Its lines and err are set once
// done is closed; refs counts readers copying from it, and a block is only
// reused for another when refs is zero. blk is -1 for a block that failed
// and may not be found again.
type decodedBlock struct {
	seg, blk int
	start    int64
	lines    []byte
	err      error
	done     chan struct{}
	refs     int
	used     uint64
}

func newRecordReader(ctx context.Context, st segmentOpener, v *view, now func() time.Time, log *slog.Logger, s *Stats, raws, pool *sync.Pool) *recordReader {
	return &recordReader{ctx: ctx, st: st, v: v, now: now, log: log, stats: s, raws: raws, pool: pool}
}

// Close hands the buffers of the blocks no reader holds back to the pool
// and forgets the blocks.
func (r *recordReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.blocks[:0]
	for _, d := range r.blocks {
		if d.refs > 0 {
			kept = append(kept, d)
			continue
		}
		if cap(d.lines) > 0 {
			b := d.lines[:0]
			r.pool.Put(&b)
		}
	}
	clear(r.blocks[len(kept):])
	r.blocks = kept
	return nil
}

// ReadAt fills p from decoded byte off. It returns io.EOF at the end of the
// view.
func (r *recordReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		if off >= r.v.size() {
			return n, io.EOF
		}
		i := r.v.segmentAt(off)
		rel := off - r.v.starts[i]
		d, err := r.acquire(i, rel)
		if err != nil {
			return n, err
		}
		c := copy(p[n:], d.lines[rel-d.start:])
		r.release(d)
		n += c
		off += int64(c)
	}
	return n, nil
}

// acquire returns the decoded block of segment i holding position rel,
// decoding it unless it is held or being decoded. The caller must release
// it.
func (r *recordReader) acquire(i int, rel int64) (*decodedBlock, error) {
	r.mu.Lock()
	r.tick++
	sr, err := r.segment(i)
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	e := &r.v.entries[i]
	b, start := sr.BlockForDecodedPos(rel)
	if b >= len(sr.Info.Blocks) {
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: segment %s has no block at decoded byte %d", store.ErrCorrupt, e.ULID, rel)
	}
	for _, d := range r.blocks {
		if d.seg == i && d.blk == b {
			d.refs++
			d.used = r.tick
			r.mu.Unlock()
			<-d.done
			if d.err != nil {
				r.release(d)
				return nil, d.err
			}
			return d, nil
		}
	}
	d := r.slot()
	d.seg, d.blk, d.start, d.err, d.refs, d.used = i, b, start, nil, 1, r.tick
	d.done = make(chan struct{})
	r.mu.Unlock()

	d.lines, d.err = r.decode(e, sr, b, d.lines[:0])
	if d.err == nil && int64(len(d.lines)) != sr.Info.Blocks[b].DecodedBytes {
		d.err = fmt.Errorf("%w: block %d of segment %s decodes to %d bytes, footer says %d", store.ErrCorrupt, b, e.ULID, len(d.lines), sr.Info.Blocks[b].DecodedBytes)
	}
	if d.err != nil {
		r.mu.Lock()
		d.blk = -1 // not found again: the next read tries anew
		r.mu.Unlock()
	}
	close(d.done)
	if d.err != nil {
		r.release(d)
		return nil, d.err
	}
	return d, nil
}

// release ends a reader's use of d.
func (r *recordReader) release(d *decodedBlock) {
	r.mu.Lock()
	d.refs--
	r.mu.Unlock()
}

// slot returns a block to decode into: a new one while fewer than
// maxDecoded are kept, else the least recently used one no reader holds,
// else (every block being read) one that is not kept. r.mu is held.
func (r *recordReader) slot() *decodedBlock {
	if len(r.blocks) < maxDecoded {
		d := &decodedBlock{}
		if b, ok := r.pool.Get().(*[]byte); ok {
			d.lines = *b
		}
		r.blocks = append(r.blocks, d)
		return d
	}
	var lru *decodedBlock
	for _, d := range r.blocks {
		if d.refs == 0 && (lru == nil || d.used < lru.used) {
			lru = d
		}
	}
	if lru == nil {
		return &decodedBlock{}
	}
	return lru
}

// decode reads block b of segment e and renders its records as JSON lines
// appended to lines.
func (r *recordReader) decode(e *store.SegmentEntry, sr *store.SegmentReader, b int, lines []byte) ([]byte, error) {
	r.stats.Blocks.Add(1)
	rawp, _ := r.raws.Get().(*[]byte)
	if rawp == nil {
		rawp = new([]byte)
	}
	defer r.raws.Put(rawp)
	raw, err := sr.ReadBlock(b, (*rawp)[:0])
	if err != nil {
		return lines, r.gone(e, err)
	}
	*rawp = raw
	bi := &sr.Info.Blocks[b]
	if want := bi.DecodedBytes; int64(cap(lines)) < want && want <= 2*int64(len(raw))+64<<10 {
		// The footer gives the block's decoded size: one allocation
		// instead of a dozen growths, each copying and faulting in
		// pages. Only a claim the payload plausibly renders to is
		// believed, so a crafted footer cannot make the reader allocate
		// more than twice what it read (a larger block grows as it
		// renders; the check after decoding refuses a wrong claim).
		lines = make([]byte, 0, want+want/8) // the next block may be a little larger
	}
	err = store.DecodeBlock(raw, bi.FirstOffset, func(rec *store.Record) error {
		lines = store.AppendJSONLine(lines, rec)
		return nil
	})
	if err != nil {
		return lines, fmt.Errorf("decode block %d of segment %s: %w", b, e.ULID, err)
	}
	return lines, nil
}

// segment returns segment i's footer, opening it (and checking it against
// the index) unless it is one of the last two read. r.mu is held.
func (r *recordReader) segment(i int) (*store.SegmentReader, error) {
	old := &r.segs[0]
	for k := range r.segs {
		s := &r.segs[k]
		if s.sr != nil && s.seg == i {
			s.used = r.tick
			return s.sr, nil
		}
		if s.sr == nil || s.used < old.used {
			old = s
		}
	}
	e := &r.v.entries[i]
	r.stats.Segments.Add(1)
	sr, err := r.st.OpenSegmentReadAhead(r.ctx, r.v.loc, e.ULID, e.StoredBytes)
	if err != nil {
		return nil, r.gone(e, err)
	}
	if sr.Info.DecodedBytes != e.DecodedBytes {
		return nil, fmt.Errorf("%w: segment %s decodes to %d bytes, index says %d", store.ErrCorrupt, e.ULID, sr.Info.DecodedBytes, e.DecodedBytes)
	}
	*old = openSegment{seg: i, sr: sr, used: r.tick}
	return sr, nil
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
