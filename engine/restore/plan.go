package restore

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kbackup/kbackup/store"
)

// filter is what a partition restores: offsets [from, until) and record
// timestamps [tFrom, tUntil) in milliseconds.
type filter struct {
	from, until   int64
	tFrom, tUntil int64
}

func newFilter(from, until int64, tFrom, tUntil int64) filter {
	if until < 0 {
		until = math.MaxInt64
	}
	return filter{from: from, until: until, tFrom: tFrom, tUntil: tUntil}
}

func (f filter) has(r *store.Record) bool {
	ts := r.Timestamp.UnixMilli()
	return r.Offset >= f.from && r.Offset < f.until && ts >= f.tFrom && ts < f.tUntil
}

// span classifies offsets [first, last] with timestamps [minTs, maxTs]:
// whether any record may match and whether every record does.
func (f filter) span(first, last, minTs, maxTs int64) (overlap, full bool) {
	overlap = last >= f.from && first < f.until && maxTs >= f.tFrom && minTs < f.tUntil
	full = first >= f.from && last < f.until && minTs >= f.tFrom && maxTs < f.tUntil
	return
}

func (f filter) segment(e *store.SegmentEntry) (overlap, full bool) {
	return f.span(e.FirstOffset, e.LastOffset, e.MinTimestamp.UnixMilli(), e.MaxTimestamp.UnixMilli())
}

func (f filter) block(b *store.BlockInfo) (overlap, full bool) {
	return f.span(b.FirstOffset, b.LastOffset, b.MinTimestamp, b.MaxTimestamp)
}

// partPlan is one partition's restore: the segments to read, the filter,
// where to (re)start, and live progress.
type partPlan struct {
	p    int32
	f    filter
	segs []store.SegmentEntry // segments that may hold matching records

	recsTotal, bytesTotal int64 // estimates from the index

	start   int64 // first source offset to produce (after resume)
	resumed int64 // records an earlier run already restored

	recs    atomic.Int64 // records restored (acknowledged), resumed included
	payload atomic.Int64 // key+value+header bytes produced by this run

	exact   int64 // records planned, exactly (count), once counted
	counted bool

	tEnd int64        // the target partition's end offset before this run
	om   *offsetTrack // source → target offsets of the restored records

	now     func() time.Time // the restore's clock (nil: time.Now)
	mu      sync.Mutex
	expired []ExpiredSpan // segments left out because retention deleted them
}

// newPartPlan selects the segments of p that overlap f and estimates the
// totals: exact for segments wholly inside f, pro rata by offsets for
// segments cut by the offset range, the whole segment otherwise.
func newPartPlan(p int32, f filter, entries []store.SegmentEntry) *partPlan {
	pp := &partPlan{p: p, f: f, start: f.from}
	for i := range entries {
		e := &entries[i]
		overlap, full := f.segment(e)
		if !overlap || e.Records == 0 {
			continue
		}
		pp.segs = append(pp.segs, *e)
		recs, bytes := e.Records, e.DecodedBytes
		if !full {
			lo, hi := max(e.FirstOffset, f.from), min(e.LastOffset+1, f.until)
			if span := e.LastOffset + 1 - e.FirstOffset; span > 0 && hi-lo < span {
				recs = max(1, recs*(hi-lo)/span)
				bytes = bytes * (hi - lo) / span
			}
		}
		pp.recsTotal += recs
		pp.bytesTotal += bytes
	}
	return pp
}

// walk visits the planned records at or after offset from in order. seen is
// the number of planned records before the visited one, exact only when
// from is the filter's start. Whole segments and blocks inside the filter
// are passed over without being read when skip(seen, count, lastOffset)
// allows it. visit returns true to stop; walk returns the final seen.
// Segments that retention deleted are left out (gone).
func (pp *partPlan) walk(ctx context.Context, st *store.Store, loc store.Loc, from int64,
	skip func(seen, count, last int64) bool, visit func(seen int64, r *store.Record) bool) (int64, error) {
	var seen int64
	err := st.Walk(ctx, loc, pp.segs, store.Walk{
		From: from,
		Segment: func(e *store.SegmentEntry) bool {
			if _, full := pp.f.segment(e); full && skip(seen, e.Records, e.LastOffset) {
				seen += e.Records
				return false
			}
			return true
		},
		Block: func(_ *store.SegmentEntry, b *store.BlockInfo) bool {
			overlap, full := pp.f.block(b)
			if !overlap {
				return false
			}
			if full && skip(seen, int64(b.Count), b.LastOffset) {
				seen += int64(b.Count)
				return false
			}
			return true
		},
		Record: func(_ *store.SegmentEntry, r *store.Record) error {
			if !pp.f.has(r) {
				return nil
			}
			if visit(seen, r) {
				return store.ErrStopWalk
			}
			seen++
			return nil
		},
		Gone: func(e *store.SegmentEntry, err error) error {
			if pp.gone(e, err) {
				return nil
			}
			return err
		},
		// Visited records may be kept (asynchronous produce).
		FreshBuffers: true,
	})
	return seen, err
}

// nth returns a copy of the n-th planned record (1-based), or nil when the
// plan holds fewer than n records.
func (pp *partPlan) nth(ctx context.Context, st *store.Store, loc store.Loc, n int64) (*store.Record, error) {
	var found *store.Record
	_, err := pp.walk(ctx, st, loc, pp.f.from,
		func(seen, count, _ int64) bool { return seen+count < n },
		func(seen int64, r *store.Record) bool {
			if seen == n-1 {
				found = cloneRecord(r)
				return true
			}
			return false
		})
	return found, err
}

// countThrough returns how many planned records have offsets up to off.
func (pp *partPlan) countThrough(ctx context.Context, st *store.Store, loc store.Loc, off int64) (int64, error) {
	return pp.walk(ctx, st, loc, pp.f.from,
		func(_, _, last int64) bool { return last <= off },
		func(_ int64, r *store.Record) bool { return r.Offset > off })
}

func cloneRecord(r *store.Record) *store.Record {
	c := *r
	c.Key = cloneBytes(r.Key)
	c.Value = cloneBytes(r.Value)
	c.Headers = make([]store.Header, len(r.Headers))
	for i, h := range r.Headers {
		c.Headers[i] = store.Header{Key: h.Key, Value: cloneBytes(h.Value)}
	}
	return &c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// status reports the partition's progress; bytes are prorated from the
// index's decoded bytes.
func (pp *partPlan) status() PartitionStatus {
	recs := pp.recs.Load()
	s := PartitionStatus{Partition: pp.p, Records: recs, RecordsTotal: max(pp.recsTotal, recs), DecodedBytesTotal: pp.bytesTotal, Resumed: pp.resumed}
	s.Expired, _ = pp.expiredSpans()
	if pp.recsTotal > 0 {
		s.DecodedBytes = min(pp.bytesTotal, int64(float64(pp.bytesTotal)*float64(recs)/float64(pp.recsTotal)))
	}
	return s
}
