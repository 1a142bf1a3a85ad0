package store

import (
	"context"
	"fmt"

	"github.com/kbackup/kbackup/store/crypt"
	"github.com/oklog/ulid/v2"
)

// SegmentOptions describes a segment to create.
type SegmentOptions struct {
	// ID names the segment object; empty picks a new ULID.
	ID        string
	Partition int32
	// Start is the fetch position the segment begins at: the previous
	// segment's NextOffset, or where the partition's backup starts.
	Start int64
	Codec Codec
	// BlockSize closes blocks at this uncompressed size (0:
	// DefaultBlockSize).
	BlockSize int
	// Spool, if set, bounds the segment's memory: it is encoded into the
	// spool (memory from its budget, or a spill file) and uploaded by
	// Commit, and its open block is flushed early when the budget is
	// exhausted. Without it the segment streams to storage as it is
	// appended, holding an upload buffer (SegmentPartSize) all along.
	Spool *Spool
}

// SegmentUpload is a segment being written: records are encoded and
// streamed to storage as they are appended, and Commit makes the segment
// visible and returns its index entry. It is the only way segments are
// written, so no caller can skip a step: close the encoder, complete the
// upload (only while the lease is valid), sync it on file storage, then
// describe it. It is not safe for concurrent use.
type SegmentUpload struct {
	id  string
	loc Loc
	up  *segmentUpload // nil while spooled, until Commit
	sw  *SegmentWriter
	end bool

	sp *spooled // set when the segment is spooled (SegmentOptions.Spool)
}

// CreateSegment starts segment o of loc under lease l. Cancelling ctx, the
// end of the lease or Abort abandons it: no object appears.
func (s *Store) CreateSegment(ctx context.Context, l *Lease, loc Loc, o SegmentOptions) (*SegmentUpload, error) {
	if o.ID == "" {
		o.ID = ulid.Make().String()
	}
	if !validSegmentID(o.ID) {
		return nil, fmt.Errorf("segment ID %q is not a ULID", o.ID)
	}
	if o.Spool != nil {
		return s.createSpooled(ctx, l, loc, o)
	}
	up, err := s.newSegmentUpload(ctx, l, loc, o.ID)
	if err != nil {
		return nil, err
	}
	var sw *SegmentWriter
	if s.keys != nil {
		salt := crypt.NewSalt()
		enc, err := s.keys.Segment(o.ID, salt)
		if err != nil {
			up.abort()
			return nil, err
		}
		sw = newSegmentWriter(up, o.Partition, o.Codec, o.Start, o.BlockSize, enc, salt)
	} else {
		sw = NewSegmentWriter(up, o.Partition, o.Codec, o.Start, o.BlockSize)
	}
	return &SegmentUpload{id: o.ID, loc: loc, up: up, sw: sw}, nil
}

// ID returns the segment's ID.
func (u *SegmentUpload) ID() string { return u.id }

// Append adds r, whose offset must be at least NextOffset (SegmentWriter).
func (u *SegmentUpload) Append(r *Record) error {
	err := u.sw.Append(r)
	if u.sp != nil && err == nil {
		err = u.sp.chargeBlock(u.sw)
	}
	return err
}

// Skip moves the fetch position past records not stored (control records,
// aborted transactions) up to next.
func (u *SegmentUpload) Skip(next int64) { u.sw.Skip(next) }

// Size returns the bytes written so far, the open block included.
func (u *SegmentUpload) Size() int64 { return u.sw.Size() }

// Records returns the records appended so far.
func (u *SegmentUpload) Records() int64 { return u.sw.Records() }

// Commit writes the footer, completes the upload and returns the segment's
// index entry. The segment is visible once it returns without error; it is
// for the caller to add the entry to the index (IndexWriter.Append).
func (u *SegmentUpload) Commit() (SegmentEntry, error) {
	if u.end {
		return SegmentEntry{}, fmt.Errorf("segment %s: already committed or aborted", u.loc.segmentKey(u.id))
	}
	u.end = true
	if u.sp != nil {
		return u.sp.commit(u)
	}
	info, size, crc, err := u.sw.Close()
	if err != nil {
		u.up.abort()
		return SegmentEntry{}, fmt.Errorf("segment %s: %w", u.loc.segmentKey(u.id), err)
	}
	if err := u.up.Close(); err != nil {
		return SegmentEntry{}, err
	}
	return EntryFromInfo(u.id, &info, size, crc), nil
}

// Abort abandons the segment: no object appears. It is a no-op after
// Commit.
func (u *SegmentUpload) Abort() {
	if !u.end {
		u.end = true
		if u.sp != nil {
			u.sp.release(u.sw)
			return
		}
		u.up.abort()
	}
}
