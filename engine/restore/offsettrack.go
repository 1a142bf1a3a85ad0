package restore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/store"
)

// offsetTrack builds one partition's offset map from the acknowledgements
// of its records, which come in order per partition.
type offsetTrack struct {
	mu  sync.Mutex
	m   PartitionMap
	err error // the first disorder: the map cannot be trusted
}

func (t *offsetTrack) add(src, dst int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = t.m.Add(src, dst)
	}
}

// snapshot returns a copy of the map, or the error that broke it.
func (t *offsetTrack) snapshot() (*PartitionMap, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return nil, t.err
	}
	m := PartitionMap{End: t.m.End, Ranges: append([]OffsetRange(nil), t.m.Ranges...)}
	return &m, nil
}

// tracked wraps a record's promise so that its acknowledged target offset
// enters the map under its source offset src.
func (pp *partPlan) tracked(src int64, done func(*kgo.Record, error)) func(*kgo.Record, error) {
	if pp.om == nil {
		return done
	}
	return func(kr *kgo.Record, err error) {
		if err == nil {
			pp.om.add(src, kr.Offset)
		}
		done(kr, err)
	}
}

// initOffsetMaps starts every partition's offset map: empty at the
// target's end for a partition restored from its start; for a resumed
// one, the saved map when it covers exactly the records the target holds,
// else the prefix rebuilt from the plan (the k-th record the target holds
// is the k-th planned one, as findResume found).
func (r *restorer) initOffsetMaps(ctx context.Context) error {
	cluster, err := r.adm.ClusterID(ctx)
	if err != nil {
		return err
	}
	r.cluster = cluster
	for _, j := range r.jobs {
		target := j.m.TargetName()
		var saved map[int32]*PartitionMap
		st, err := LoadState(r.opts.StateDir, cluster, target)
		switch {
		case errors.Is(err, ErrNoState):
		case err != nil:
			r.log.Warn("ignoring the saved restore state; rebuilding the offset map", "target", target, "err", err)
		case st.Source == j.loc:
			saved, _ = st.OffsetMaps()
		}
		resumed := false
		for _, pp := range j.plans {
			pp.om = &offsetTrack{m: PartitionMap{End: pp.tEnd}}
			if pp.resumed == 0 {
				continue
			}
			resumed = true
			base := saved[pp.p]
			if base != nil && base.End == pp.tEnd && base.Records() == pp.resumed && lastSource(base) == pp.start-1 {
				pp.om.m = *base
				continue
			}
			// A saved map behind the target (saved before the last
			// acknowledgements of a killed run) is extended; any other
			// is rebuilt from the start.
			if base != nil && (base.Records() > pp.resumed || base.End+pp.resumed-base.Records() != pp.tEnd) {
				base = nil
			}
			m, err := r.rebuildMap(ctx, j, pp, base)
			if err != nil {
				return fmt.Errorf("topic %s partition %d: rebuild the offset map: %w", target, pp.p, err)
			}
			pp.om.m = *m
		}
		if resumed && st != nil && st.Source == j.loc {
			j.groups = st.Groups
		}
	}
	return nil
}

func lastSource(m *PartitionMap) int64 {
	if len(m.Ranges) == 0 {
		return -1
	}
	r := m.Ranges[len(m.Ranges)-1]
	return r.Src + r.Len - 1
}

// rebuildMap maps the first pp.resumed planned records to the last as many
// offsets of the target partition, extending base (a map of the first of
// them, nil: none).
func (r *restorer) rebuildMap(ctx context.Context, j *topicJob, pp *partPlan, base *PartitionMap) (*PartitionMap, error) {
	m := &PartitionMap{}
	dst, from, k := pp.tEnd-pp.resumed, pp.f.from, int64(0)
	if base != nil && len(base.Ranges) > 0 {
		m = &PartitionMap{End: base.End, Ranges: append([]OffsetRange(nil), base.Ranges...)}
		k = m.Records()
		dst, from = base.End-k, lastSource(base)+1
	}
	if k >= pp.resumed {
		return m, nil
	}
	var addErr error
	_, err := pp.walk(ctx, r.st, j.loc, from,
		func(_, _, _ int64) bool { return false },
		func(_ int64, rec *store.Record) bool {
			if addErr = m.Add(rec.Offset, dst+k); addErr != nil {
				return true
			}
			k++
			return k >= pp.resumed
		})
	if err == nil {
		err = addErr
	}
	if err == nil && k < pp.resumed {
		err = fmt.Errorf("the plan holds %d records, the target %d", k, pp.resumed)
	}
	if err != nil {
		return nil, err
	}
	if m.End < pp.tEnd {
		m.End = pp.tEnd
	}
	return m, nil
}

// stateSaveInterval is how often a running restore saves its offset maps,
// so that a killed one extends the saved map instead of rebuilding it.
const stateSaveInterval = 5 * time.Second

// saveStateEvery saves the state every d until stop is called.
func (r *restorer) saveStateEvery(d time.Duration) (stop func()) {
	return every(d, func() {
		if err := r.saveState(); err != nil {
			r.log.Warn("cannot save the restore's offset maps", "err", err)
		}
	})
}

// saveState saves every topic's offset maps and group commits. A
// partition whose map broke is left out (its groups cannot be translated).
func (r *restorer) saveState() error {
	if r.cluster == "" {
		return nil
	}
	var errs []error
	for _, j := range r.jobs {
		maps := map[int32]*PartitionMap{}
		for _, pp := range j.plans {
			if pp.om == nil {
				continue
			}
			m, err := pp.om.snapshot()
			if err != nil {
				r.log.Warn("offset map broken; consumer groups cannot be translated on this partition", "target", j.m.TargetName(), "partition", pp.p, "err", err)
				continue
			}
			maps[pp.p] = m
		}
		s := &TargetState{Cluster: r.cluster, Target: j.m.TargetName(), Source: j.loc, Updated: time.Now().UTC(),
			Maps: EncodeOffsetMaps(maps), Groups: j.groups}
		if err := SaveState(r.opts.StateDir, s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
