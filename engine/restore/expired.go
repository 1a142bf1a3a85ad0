package restore

import (
	"context"
	"fmt"
	"time"

	"github.com/kbackup/kbackup/store"
)

// expiryGrace allows for clocks: a segment whose index entry expires within
// this much of now may already have been deleted by a retention pass that
// ran on another machine's clock.
const expiryGrace = 5 * time.Minute

// ExpiredSpan is a run of a partition's records that the backup's retention
// deleted from storage, or may delete at any moment (the index entry's
// expiry passed): a restore skips it and says so.
type ExpiredSpan struct {
	FirstOffset  int64     `json:"first_offset"`
	LastOffset   int64     `json:"last_offset"`
	MinTimestamp time.Time `json:"min_timestamp"`
	MaxTimestamp time.Time `json:"max_timestamp"`
	Records      int64     `json:"records"`
}

func spanOf(e *store.SegmentEntry) ExpiredSpan {
	return ExpiredSpan{FirstOffset: e.FirstOffset, LastOffset: e.LastOffset,
		MinTimestamp: e.MinTimestamp, MaxTimestamp: e.MaxTimestamp, Records: e.Records}
}

// merge extends s by the span of e, the segment that follows it.
func (s *ExpiredSpan) merge(e *store.SegmentEntry) {
	s.LastOffset = e.LastOffset
	if e.MinTimestamp.Before(s.MinTimestamp) {
		s.MinTimestamp = e.MinTimestamp
	}
	if e.MaxTimestamp.After(s.MaxTimestamp) {
		s.MaxTimestamp = e.MaxTimestamp
	}
	s.Records += e.Records
}

// liveSegments lists the segments storage holds for loc (nil when the
// index names none).
func (r *restorer) liveSegments(ctx context.Context, loc store.Loc, ix *store.Index) (map[string]int64, error) {
	if len(ix.Segments) == 0 {
		return nil, nil
	}
	listed, err := r.st.ListSegments(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", loc, err)
	}
	return listed, nil
}

// planExpired keeps the entries of one partition that f may restore and
// turns the expired ones into spans. An entry is expired when its expiry
// passed (SegmentEntry.Expired at now), or when storage no longer holds it
// and it expires within expiryGrace (a retention pass on a clock ahead of
// ours). A missing segment that is not expiring is lost data and fails the
// plan with ErrPreflight, before anything is created.
func (r *restorer) planExpired(loc store.Loc, entries []store.SegmentEntry, live map[string]int64, f filter) ([]store.SegmentEntry, []ExpiredSpan, error) {
	now := r.now()
	var (
		keep     []store.SegmentEntry
		spans    []ExpiredSpan
		prevSpan bool
	)
	for i := range entries {
		e := &entries[i]
		if overlap, _ := f.segment(e); !overlap || e.Records == 0 {
			continue
		}
		_, present := live[e.ULID]
		switch {
		case e.Expired(now) || (!present && e.Expires != nil && e.Expired(now.Add(expiryGrace))):
			if prevSpan {
				spans[len(spans)-1].merge(e)
			} else {
				spans = append(spans, spanOf(e))
			}
			prevSpan = true
			continue
		case !present:
			return nil, nil, fmt.Errorf("%w: source %s: segment %s of partition %d (offsets %d-%d) is missing from storage and has not expired: "+
				"the backup lost data (run kbackup verify; restore around it with partition offset ranges)",
				ErrPreflight, loc, e.ULID, e.Partition, e.FirstOffset, e.LastOffset)
		}
		keep = append(keep, *e)
		prevSpan = false
	}
	return keep, spans, nil
}

// gone reports whether err, from reading segment e while restoring, means
// that retention deleted it after planning; the segment is then recorded as
// expired and skipped.
func (pp *partPlan) gone(e *store.SegmentEntry, err error) bool {
	now := time.Now
	if pp.now != nil {
		now = pp.now
	}
	if !store.IsNotFound(err) || e.Expires == nil || !e.Expired(now().Add(expiryGrace)) {
		return false
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	for _, s := range pp.expired {
		if s.FirstOffset <= e.FirstOffset && e.LastOffset <= s.LastOffset {
			return true
		}
	}
	pp.expired = append(pp.expired, spanOf(e))
	return true
}

// expiredSpans returns a copy of the partition's expired spans.
func (pp *partPlan) expiredSpans() ([]ExpiredSpan, int64) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	var n int64
	for _, s := range pp.expired {
		n += s.Records
	}
	return append([]ExpiredSpan(nil), pp.expired...), n
}
