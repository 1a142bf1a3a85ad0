package restore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// A chained restore ("snapshot: {version: v1..v3}", --snapshot v1..v3)
// restores the snapshot versions of one topic from the first to the last,
// in order, into one target: a topic's history across versions. Each
// version is planned as its own job (a leg), with its own status; the
// legs share the target, which the first leg checks and creates, and run
// one after the other.
//
// A chain resumes by position, like a single restore, over the
// concatenation of its legs: a target partition holding k records holds
// the first k records the chain plans for it. Each leg counts the planned
// records of the legs before it exactly (from the index and segment
// footers, decoding only the blocks a filter cuts), and the leg holding
// the k-th record checks that the target's last record is a copy of it.

// maxChain bounds the versions of one chain: a chain is planned version by
// version, and a mistyped bound must not allocate without limit.
const maxChain = 10000

// parseChain parses "vA..vB" (A < B, at most maxChain versions).
func parseChain(s string) (from, to int, ok bool) {
	a, b, found := strings.Cut(s, "..")
	if !found {
		return 0, 0, false
	}
	from, err1 := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(a), "v"))
	to, err2 := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(b), "v"))
	if err1 != nil || err2 != nil || from < 1 || to <= from || to-from >= maxChain {
		return 0, 0, false
	}
	return from, to, true
}

// allVersions selects every version of a topic as a chain.
const allVersions = "all"

// isChain reports whether t restores a chain of versions.
func (t *TopicMapping) isChain() bool {
	_, _, ok := parseChain(t.snapshotSel())
	return ok || t.snapshotSel() == allVersions
}

// chainVersions returns the versions of a chained mapping in order, or nil
// for a mapping of one version. "all" is every version in the manifest up
// to the active one.
func (r *restorer) chainVersions(ctx context.Context, m TopicMapping) ([]int, error) {
	if from, to, ok := parseChain(m.snapshotSel()); ok {
		var vs []int
		for v := from; v <= to; v++ {
			vs = append(vs, v)
		}
		return vs, nil
	}
	if m.snapshotSel() != allVersions {
		return nil, nil
	}
	_, man, err := r.st.ResolveSnapshot(ctx, m.Source, "latest")
	if err != nil {
		return nil, fmt.Errorf("%w: source %s: %w", ErrPreflight, m.Source, err)
	}
	var vs []int
	for _, s := range man.Snapshots {
		if s.Version <= man.Active {
			vs = append(vs, s.Version)
		}
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: source %s: the manifest lists no version", ErrPreflight, m.Source)
	}
	slices.Sort(vs)
	return vs, nil
}

// planChain plans one leg per version of m's chain. Every leg plans the
// largest partition count of the chain, the target's.
func (r *restorer) planChain(ctx context.Context, m TopicMapping, versions []int, f filter) ([]*topicJob, error) {
	var legs []*topicJob
	var parts int32
	for _, v := range versions {
		leg := m
		leg.Snapshot = &SnapshotRef{Version: SnapshotAt(v)}
		j, err := r.plan(ctx, leg, f)
		if err != nil {
			return nil, err
		}
		j.leg = len(legs)
		legs = append(legs, j)
		parts = max(parts, j.partitions)
	}
	for _, j := range legs {
		if len(m.Partitions) == 0 {
			for p := j.partitions; p < parts; p++ { // partitions this version lacks
				pp := newPartPlan(p, f, nil)
				pp.now = r.now
				j.plans = append(j.plans, pp)
			}
		}
		j.legs, j.partitions = legs, parts
	}
	return legs, nil
}

// preflightLeg checks a leg after a chain's first: the first leg checked
// the target (existence, partition count, cleanup.policy) and creates it.
// A leg checks what depends on its own records (timestamps, retention)
// and where it resumes.
func (r *restorer) preflightLeg(ctx context.Context, j *topicJob, live map[string]kafka.Topic) ([]error, error) {
	target, first := j.m.TargetName(), j.legs[0]
	var probs []error
	fail := func(check *CheckError, format string, a ...any) {
		if j.checks {
			probs = append(probs, checkFailure(target, check, format, a...))
		}
	}
	j.configs = first.configs
	if _, exists := live[target]; !exists {
		if first.create {
			return probs, r.checkRetention(ctx, j, fail)
		}
		return probs, nil // the first leg reports the missing target
	}
	if err := r.checkExisting(ctx, j, fail); err != nil {
		return nil, err
	}
	return probs, nil
}

// resumeLeg is resumeAfter for a leg of a chain: the held records of the
// target partition are the chain's first held planned records. It moves
// pp's start past what the leg already restored, and reports false when
// the held records cannot be the chain's (more than it plans, or a last
// record that is not the planned one).
func (r *restorer) resumeLeg(ctx context.Context, j *topicJob, pp *partPlan, last *kgo.Record, held int64) (bool, error) {
	base, err := r.legBase(ctx, j, pp.p)
	if err != nil {
		return false, err
	}
	own := held - base
	if own <= 0 {
		return true, nil // not started; an earlier leg holds the last record and checks it
	}
	n, err := pp.count(ctx, r.st, j.loc)
	if err != nil {
		return false, err
	}
	if own > n {
		if j.leg < len(j.legs)-1 {
			pp.finish(n) // a later leg holds the last record and checks it
			return true, nil
		}
		return false, nil
	}
	return r.resumeByPosition(ctx, j, pp, last, own)
}

// legBase returns the exact number of records the legs before j plan for
// partition p.
func (r *restorer) legBase(ctx context.Context, j *topicJob, p int32) (int64, error) {
	var base int64
	for _, l := range j.legs[:j.leg] {
		for _, pp := range l.plans {
			if pp.p != p {
				continue
			}
			n, err := pp.count(ctx, r.st, l.loc)
			if err != nil {
				return 0, err
			}
			base += n
		}
	}
	return base, nil
}

// count returns the exact number of records pp plans, reading only the
// blocks its filter cuts. It counts once; it is called from preflight
// only, which runs on one goroutine.
func (pp *partPlan) count(ctx context.Context, st *store.Store, loc store.Loc) (int64, error) {
	if pp.counted {
		return pp.exact, nil
	}
	n, err := pp.walk(ctx, st, loc, pp.f.from,
		func(_, _, _ int64) bool { return true },
		func(int64, *store.Record) bool { return false })
	if err != nil {
		return 0, err
	}
	pp.exact, pp.counted = n, true
	return n, nil
}

// finish marks pp as wholly restored by an earlier run: n records, nothing
// left to produce.
func (pp *partPlan) finish(n int64) {
	pp.start, pp.resumed = math.MaxInt64, n
	pp.recs.Store(n)
}

// restoreChain restores j's legs in order, or j alone, then checks the
// target's end offsets (checkEnds).
func (r *restorer) restoreChain(ctx context.Context, j *topicJob) error {
	legs := j.legs
	if legs == nil {
		legs = []*topicJob{j}
	}
	for _, l := range legs {
		if err := r.restoreTopic(ctx, l); err != nil {
			return err
		}
	}
	return r.checkEnds(ctx, legs)
}

// checkEnds fails with ErrTargetChanged when a planned partition of the
// target does not end where it ended before the restore plus the records
// the restore wrote: the idempotent producer appends each acknowledged
// record once, so anything else was written by someone else, or twice.
func (r *restorer) checkEnds(ctx context.Context, legs []*topicJob) error {
	target := legs[0].m.TargetName()
	_, ends, err := r.adm.LogRange(ctx, target)
	if err != nil {
		return fmt.Errorf("topic %s: check the restored end offsets: %w", target, err)
	}
	want := map[int32]int64{}
	for _, l := range legs {
		for _, pp := range l.plans {
			want[pp.p] += pp.recs.Load() - pp.resumed
		}
	}
	for p, n := range want {
		if w := legs[0].endBefore[p] + n; ends[p] != w {
			for _, l := range legs {
				l.phase.Store(int32(Failed))
			}
			return fmt.Errorf("topic %s: %w: partition %d ends at offset %d, but held records up to %d before and the restore wrote %d: "+
				"another producer wrote to it during the restore, or records were written twice; compare it with the backup (kbackup cat) before using it",
				target, ErrTargetChanged, p, ends[p], legs[0].endBefore[p], n)
		}
	}
	return nil
}
