package store

import (
	"context"
	"errors"
	"fmt"
)

// Walk says how to read the records of one partition's segments: from
// which offset, what to pass over without reading, and what to do with
// each record. Every callback is optional but Record.
type Walk struct {
	// From is the first offset visited: segments and blocks whose last
	// record is before it are not read, and records below it are passed
	// over.
	From int64
	// Segment is asked before a segment is opened; false passes over it
	// whole, without reading it.
	Segment func(e *SegmentEntry) bool
	// Block is asked before a block is read; false passes over it.
	Block func(e *SegmentEntry, b *BlockInfo) bool
	// Record is called for each record of a read block at or after From,
	// in offset order. Its record and slices are reused after it returns,
	// unless FreshBuffers. ErrStopWalk ends the walk; any other error
	// ends it with that error.
	Record func(e *SegmentEntry, r *Record) error
	// Gone is called when a segment's object is missing (its error wraps
	// ErrNotFound), for example deleted by retention; nil goes on with the
	// next segment, an error ends the walk with it. Without Gone, a
	// missing segment ends the walk.
	Gone func(e *SegmentEntry, err error) error
	// FreshBuffers decodes each block into memory of its own, so that
	// Record may keep records (asynchronous produce).
	FreshBuffers bool
}

// Walk reads the records of entries, one partition of loc in offset order,
// as w says: the one read path of restore and `kbackup cat`. Segments are
// fetched in windows of up to 8 MiB (a smaller segment in one request,
// footer included), and their blocks decoded one at a time, checksums
// checked and records checked against their headers, so memory stays
// within a window and a block whatever the partition holds.
func (s *Store) Walk(ctx context.Context, loc Loc, entries []SegmentEntry, w Walk) error {
	var buf, win []byte
	var largest int64
	for i := range entries {
		largest = max(largest, entries[i].StoredBytes)
	}
	for i := range entries {
		e := &entries[i]
		if e.LastOffset < w.From {
			continue
		}
		if w.Segment != nil && !w.Segment(e) {
			continue
		}
		if win == nil {
			win = make([]byte, 0, max(0, min(walkWindow, largest)))
		}
		err := s.walkSegment(ctx, loc, e, &w, &buf, win)
		switch {
		case err == nil:
		case errors.Is(err, ErrStopWalk):
			return nil
		case IsNotFound(err) && w.Gone != nil:
			if err := w.Gone(e, err); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// walkSegment walks the blocks of segment e.
func (s *Store) walkSegment(ctx context.Context, loc Loc, e *SegmentEntry, w *Walk, buf *[]byte, win []byte) error {
	sr, err := s.openWindowed(ctx, loc, e, win)
	if err != nil {
		return err
	}
	for bi := sr.BlockForOffset(w.From); bi < len(sr.Info.Blocks); bi++ {
		b := &sr.Info.Blocks[bi]
		if w.Block != nil && !w.Block(e, b) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var dst []byte
		if !w.FreshBuffers {
			dst = (*buf)[:0]
		}
		payload, err := sr.ReadBlock(bi, dst)
		if err != nil {
			return fmt.Errorf("segment %s: %w", loc.segmentKey(e.ULID), err)
		}
		if !w.FreshBuffers && b.Codec != CodecNone {
			*buf = payload
		}
		err = decodeBlock(payload, b, func(r *Record) error {
			if r.Offset < w.From {
				return nil
			}
			return w.Record(e, r)
		})
		if errors.Is(err, ErrCorrupt) {
			return fmt.Errorf("segment %s: %w", loc.segmentKey(e.ULID), err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
