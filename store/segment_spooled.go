package store

import (
	"context"
	"fmt"

	"github.com/kbackup/kbackup/store/crypt"
)

// spooled is the state of a segment written through a Spool: it is
// encoded into the spool, and Commit uploads it in one go.
type spooled struct {
	s     *Store
	ctx   context.Context
	lease *Lease
	sink  *spoolSink
	// block is the budget taken for the writer's open block buffers.
	block int64
}

// createSpooled is CreateSegment with o.Spool set.
func (s *Store) createSpooled(ctx context.Context, l *Lease, loc Loc, o SegmentOptions) (*SegmentUpload, error) {
	if err := l.checkFor(loc.Topic); err != nil {
		return nil, fmt.Errorf("start segment %s: %w", loc.segmentKey(o.ID), err)
	}
	sp := &spooled{s: s, ctx: ctx, lease: l, sink: &spoolSink{sp: o.Spool}}
	var sw *SegmentWriter
	if s.keys != nil {
		salt := crypt.NewSalt()
		enc, err := s.keys.Segment(o.ID, salt)
		if err != nil {
			return nil, err
		}
		sw = newSegmentWriter(sp.sink, o.Partition, o.Codec, o.Start, o.BlockSize, enc, salt)
	} else {
		sw = NewSegmentWriter(sp.sink, o.Partition, o.Codec, o.Start, o.BlockSize)
	}
	return &SegmentUpload{id: o.ID, loc: loc, sw: sw, sp: sp}, nil
}

// held is the memory sw's open block buffers hold.
func held(sw *SegmentWriter) int64 {
	return int64(cap(sw.raw) + cap(sw.scratch) + cap(sw.frame))
}

// chargeBlock takes from the budget what sw's block buffers grew by since
// the last call. When the budget has no more, the open block is flushed
// early (into the sink, which spills too) and its buffers dropped: the
// degraded mode trades smaller blocks for bounded memory. A block below
// minSpillBlock is kept past the budget instead (Budget.Force).
func (sp *spooled) chargeBlock(sw *SegmentWriter) error {
	h := held(sw)
	if h <= sp.block {
		return nil
	}
	b := sp.sink.sp.mem
	if b.TryAcquire(h - sp.block) {
		sp.block = h
		return nil
	}
	if len(sw.raw) < minSpillBlock {
		b.Force(h - sp.block)
		sp.block = h
		return nil
	}
	sw.flushBlock()
	sp.dropBlock(sw)
	return sw.err
}

// dropBlock frees sw's block buffers and gives their budget back.
func (sp *spooled) dropBlock(sw *SegmentWriter) {
	sw.raw, sw.scratch, sw.frame = nil, nil, nil
	sp.sink.sp.mem.Release(sp.block)
	sp.block = 0
}

// release gives back everything the segment holds (Abort, and the end of
// Commit).
func (sp *spooled) release(sw *SegmentWriter) {
	sp.dropBlock(sw)
	sp.sink.close()
}

// commit closes u's writer into the spool, then uploads the segment under
// the lease with one upload buffer from the spool's upload budget.
func (sp *spooled) commit(u *SegmentUpload) (SegmentEntry, error) {
	defer sp.release(u.sw)
	info, size, crc, err := u.sw.Close()
	if err != nil {
		return SegmentEntry{}, fmt.Errorf("segment %s: %w", u.loc.segmentKey(u.id), err)
	}
	sp.dropBlock(u.sw)
	var cost int64
	if sp.s.localDir == "" {
		// The SDK reads the next part while it sends one; file
		// storage writes through no buffer.
		cost = 2 * segmentPartSize
	}
	uploads := sp.sink.sp.uploads
	cost, err = uploads.Acquire(sp.ctx, cost)
	if err != nil {
		return SegmentEntry{}, fmt.Errorf("segment %s not written: %w", u.loc.segmentKey(u.id), err)
	}
	defer uploads.Release(cost)
	up, err := sp.s.newSpooledUpload(sp.ctx, sp.lease, u.loc, u.id)
	if err != nil {
		return SegmentEntry{}, err
	}
	if _, err := up.w.ReadFrom(sp.sink.upload()); err != nil {
		up.abort()
		if lerr := sp.lease.Err(); lerr != nil {
			return SegmentEntry{}, fmt.Errorf("segment %s not written: %w", u.loc.segmentKey(u.id), lerr)
		}
		return SegmentEntry{}, fmt.Errorf("upload segment %s: %w", u.loc.segmentKey(u.id), err)
	}
	if err := up.Close(); err != nil {
		return SegmentEntry{}, err
	}
	return EntryFromInfo(u.id, &info, size, crc), nil
}
