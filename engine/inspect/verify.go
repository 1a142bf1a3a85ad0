package inspect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kbackup/kbackup/store"
)

// Problem kinds reported by Verify.
const (
	ProblemIndex      = "index"      // the index cannot be read
	ProblemMissing    = "missing"    // an indexed, unexpired segment object is gone
	ProblemSize       = "size"       // object size differs from the index (truncated?)
	ProblemChecksum   = "checksum"   // object CRC-32C differs from the index
	ProblemCorrupt    = "corrupt"    // a block or the footer fails its checksum or does not parse
	ProblemMismatch   = "mismatch"   // index entry disagrees with the segment's footer
	ProblemContinuity = "continuity" // a segment does not start where the previous one ended
	ProblemUnindexed  = "unindexed"  // a segment object the index does not name (warning)
)

// Problem is one thing Verify found wrong with one object. Damage is false
// for warnings that lose no data (an unindexed segment, which start-up
// recovery adopts or deletes).
type Problem struct {
	Object string `json:"object" yaml:"object"`
	Kind   string `json:"kind" yaml:"kind"`
	Detail string `json:"detail" yaml:"detail"`
	Damage bool   `json:"damage" yaml:"damage"`
}

// SnapshotCheck is the verification of one snapshot.
type SnapshotCheck struct {
	Topic    string    `json:"topic" yaml:"topic"`
	Version  int       `json:"snapshot" yaml:"snapshot"`
	Segments int       `json:"segments" yaml:"segments"`
	Expired  int       `json:"expired" yaml:"expired"`
	Records  int64     `json:"records" yaml:"records"`
	Bytes    int64     `json:"bytes_read" yaml:"bytes_read"`
	Problems []Problem `json:"problems" yaml:"problems"`
	// GroupCaptures counts the consumer-group captures read.
	GroupCaptures int `json:"group_captures,omitempty" yaml:"group_captures,omitempty"`
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Snapshots []SnapshotCheck `json:"snapshots" yaml:"snapshots"`
	Segments  int             `json:"segments" yaml:"segments"`
	Records   int64           `json:"records" yaml:"records"`
	Bytes     int64           `json:"bytes_read" yaml:"bytes_read"`
	Damaged   int             `json:"damaged" yaml:"damaged"`
	Warnings  int             `json:"warnings" yaml:"warnings"`
}

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Snapshot selects one version ("N", "vN", "latest"); empty means the
	// active one unless AllSnapshots is set.
	Snapshot string
	// AllSnapshots verifies every version of each topic.
	AllSnapshots bool
	// Now decides which segments have expired (default time.Now()).
	Now time.Time
	// Progress, if set, is called after each segment with the number of
	// segments checked and the total.
	Progress func(done, total int)
}

// Verify reads every segment of the selected snapshots of topics (all
// topics in storage when empty), checks every block checksum, each
// segment's agreement with its index entry and the offset continuity of
// each partition (a segment must start at the previous one's next offset;
// gaps inside a segment are Kafka's own and not errors), and lists objects
// the index does not name. Damage is reported in the result, not as an
// error; the error is for failures to run at all.
func Verify(ctx context.Context, st *store.Store, topics []string, opts VerifyOptions) (*VerifyReport, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if len(topics) == 0 {
		var err error
		if topics, err = st.ListTopics(ctx); err != nil {
			return nil, err
		}
	}
	plans, err := planVerify(ctx, st, topics, opts)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, p := range plans {
		if p.ix != nil {
			total += len(p.ix.Segments)
		}
	}
	rep := &VerifyReport{Snapshots: []SnapshotCheck{}}
	done := 0
	for _, p := range plans {
		sc, err := p.run(ctx, st, opts.Now, func() {
			done++
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		})
		if err != nil {
			return nil, err
		}
		rep.add(sc)
	}
	return rep, nil
}

func (r *VerifyReport) add(sc *SnapshotCheck) {
	r.Snapshots = append(r.Snapshots, *sc)
	r.Segments += sc.Segments
	r.Records += sc.Records
	r.Bytes += sc.Bytes
	for _, p := range sc.Problems {
		if p.Damage {
			r.Damaged++
		} else {
			r.Warnings++
		}
	}
}

// verifyPlan is one snapshot to verify, with its index and object listing.
type verifyPlan struct {
	loc    store.Loc
	starts map[int32]int64
	ix     *store.Index
	ixErr  error
	listed map[string]int64
}

func planVerify(ctx context.Context, st *store.Store, topics []string, opts VerifyOptions) ([]*verifyPlan, error) {
	var plans []*verifyPlan
	for _, topic := range topics {
		v, m, err := st.ResolveSnapshot(ctx, topic, opts.Snapshot)
		if err != nil {
			return nil, err
		}
		for _, s := range m.Snapshots {
			if !opts.AllSnapshots && s.Version != v {
				continue
			}
			p := &verifyPlan{loc: store.Loc{Topic: topic, Version: s.Version}, starts: s.StartOffsets}
			p.ix, p.ixErr = st.ReadIndex(ctx, p.loc)
			if p.listed, err = st.ListSegments(ctx, p.loc); err != nil {
				return nil, err
			}
			plans = append(plans, p)
		}
	}
	return plans, nil
}

// run verifies the plan's snapshot; tick is called after each segment.
func (p *verifyPlan) run(ctx context.Context, st *store.Store, now time.Time, tick func()) (*SnapshotCheck, error) {
	sc := &SnapshotCheck{Topic: p.loc.Topic, Version: p.loc.Version, Problems: []Problem{}}
	if p.ixErr != nil && !(store.IsNotFound(p.ixErr) && len(p.listed) == 0) {
		sc.Problems = append(sc.Problems, Problem{Object: p.loc.IndexKey(), Kind: ProblemIndex, Damage: true,
			Detail: fmt.Sprintf("%v (run kbackup index rebuild --snapshot %d %s)", p.ixErr, p.loc.Version, p.loc.Topic)})
		return sc, nil
	}
	var ref map[string]bool
	if p.ix != nil {
		ref = p.ix.Referenced()
		sc.Problems = append(sc.Problems, continuity(p.loc, p.ix, p.starts)...)
		for i := range p.ix.Segments {
			e := &p.ix.Segments[i]
			probs, err := checkSegment(ctx, st, p.loc, e, p.listed, now, sc)
			if err != nil {
				return nil, err
			}
			sc.Problems = append(sc.Problems, probs...)
			tick()
		}
	}
	probs, err := checkGroups(ctx, st, p.loc, sc)
	if err != nil {
		return nil, err
	}
	sc.Problems = append(sc.Problems, probs...)
	for _, id := range sortedIDs(p.listed) {
		if !ref[id] {
			sc.Problems = append(sc.Problems, Problem{Object: p.loc.SegmentKey(id), Kind: ProblemUnindexed,
				Detail: "segment object is not in the index (left by a crash; the next backup start adopts or deletes it, index rebuild adds it)"})
		}
	}
	return sc, nil
}

// continuity checks that each segment's records lie in its range and
// that each partition's segments follow each other (store.Breaks).
func continuity(loc store.Loc, ix *store.Index, starts map[int32]int64) []Problem {
	breaks := map[int]int64{}
	for _, b := range store.Breaks(ix.Segments, starts) {
		breaks[b.Entry] = b.Want
	}
	var out []Problem
	for i := range ix.Segments {
		e := &ix.Segments[i]
		key := loc.SegmentKey(e.ULID)
		if e.Records > 0 && (e.FirstOffset < e.StartOffset || e.LastOffset >= e.NextOffset) {
			out = append(out, Problem{Object: key, Kind: ProblemContinuity, Damage: true,
				Detail: fmt.Sprintf("records %d-%d lie outside the segment's range %d-%d", e.FirstOffset, e.LastOffset, e.StartOffset, e.NextOffset)})
		}
		want, broken := breaks[i]
		switch {
		case !broken:
		case e.StartOffset > want:
			out = append(out, Problem{Object: key, Kind: ProblemContinuity, Damage: true,
				Detail: fmt.Sprintf("partition %d: gap, offsets %d-%d are in no segment (this one starts at %d)", e.Partition, want, e.StartOffset-1, e.StartOffset)})
		default:
			out = append(out, Problem{Object: key, Kind: ProblemContinuity, Damage: true,
				Detail: fmt.Sprintf("partition %d: overlap, starts at %d but the previous segment ends at %d", e.Partition, e.StartOffset, want)})
		}
	}
	return out
}

// checkSegment reads one indexed segment whole and compares it with its
// entry. Problems are returned; the error is for failures to read at all.
func checkSegment(ctx context.Context, st *store.Store, loc store.Loc, e *store.SegmentEntry, listed map[string]int64, now time.Time, sc *SnapshotCheck) ([]Problem, error) {
	key := loc.SegmentKey(e.ULID)
	bad := func(kind, format string, args ...any) Problem {
		return Problem{Object: key, Kind: kind, Damage: true, Detail: fmt.Sprintf(format, args...)}
	}
	if _, ok := listed[e.ULID]; !ok {
		if e.Expired(now) {
			sc.Expired++
			return nil, nil
		}
		return []Problem{bad(ProblemMissing, "segment object is missing (partition %d, offsets %d-%d, %d records)", e.Partition, e.FirstOffset, e.LastOffset, e.Records)}, nil
	}
	scan, err := st.CheckSegment(ctx, loc, e.ULID, -1)
	if store.IsNotFound(err) { // deleted meanwhile, e.g. by retention
		return []Problem{bad(ProblemMissing, "segment object disappeared while verifying")}, nil
	}
	if err != nil && !errors.Is(err, store.ErrCorrupt) {
		return nil, err
	}
	sc.Segments++
	sc.Bytes += scan.Size
	var out []Problem
	if scan.Size != e.StoredBytes {
		hint := "truncated?"
		if scan.Size > e.StoredBytes {
			hint = "bytes appended?"
		}
		out = append(out, bad(ProblemSize, "object has %d bytes, the index says %d (%s)", scan.Size, e.StoredBytes, hint))
	}
	if sum := scan.Checksum(); sum != e.Checksum {
		out = append(out, bad(ProblemChecksum, "object checksum is %s, the index says %s", sum, e.Checksum))
	}
	if err != nil {
		return append(out, bad(ProblemCorrupt, "%v", errors.Unwrap(err))), nil
	}
	sc.Records += scan.Info.Records
	got := scan.Entry(e.ULID)
	for _, f := range []struct {
		name      string
		idx, foot int64
	}{
		{"partition", int64(e.Partition), int64(got.Partition)},
		{"start offset", e.StartOffset, got.StartOffset},
		{"next offset", e.NextOffset, got.NextOffset},
		{"first offset", e.FirstOffset, got.FirstOffset},
		{"last offset", e.LastOffset, got.LastOffset},
		{"records", e.Records, got.Records},
	} {
		if f.idx != f.foot {
			out = append(out, bad(ProblemMismatch, "%s is %d in the index but %d in the segment", f.name, f.idx, f.foot))
		}
	}
	return out, nil
}
