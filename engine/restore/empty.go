package restore

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kbackup/kbackup/store"
)

// holdings says what loc's index holds, for the message of a restore that
// selects nothing: records, offsets per partition and the time range.
func holdings(loc store.Loc, ix *store.Index) string {
	var recs int64
	var minT, maxT time.Time
	var parts []string
	ps := ix.PartitionIDs()
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	for _, p := range ps {
		es := ix.Partition(p)
		if len(es) == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%d: %d-%d", p, es[0].FirstOffset, es[len(es)-1].LastOffset))
		for _, e := range es {
			recs += e.Records
			if minT.IsZero() || e.MinTimestamp.Before(minT) {
				minT = e.MinTimestamp
			}
			if e.MaxTimestamp.After(maxT) {
				maxT = e.MaxTimestamp
			}
		}
	}
	if recs == 0 {
		return fmt.Sprintf("snapshot %s holds no record", loc)
	}
	return fmt.Sprintf("snapshot %s holds %d records, offsets by partition %s, times %s to %s", loc, recs,
		strings.Join(parts, ", "), minT.UTC().Format(time.RFC3339), maxT.UTC().Format(time.RFC3339))
}

// checkSelects fails a job whose plan selects no record: its window,
// ranges or retention leave nothing of what the backup holds, which is
// most often a mistake (a time window outside the data, an empty version).
// AllowEmpty accepts it.
func (r *restorer) checkSelects(j *topicJob) error {
	if !j.checks || r.cfg.AllowEmpty || j.leg > 0 {
		return nil
	}
	legs := []*topicJob{j}
	if j.legs != nil {
		legs = j.legs // a chain selects nothing only if none of its versions does
	}
	for _, l := range legs {
		for _, pp := range l.plans {
			if pp.recsTotal > 0 {
				return nil
			}
		}
	}
	return checkFailure(j.m.TargetName(), ErrNothingSelected, "the restore selects no record; %s; "+
		"restore a snapshot that holds records, widen the time window, offsets or partitions, or set allowEmpty: true to restore nothing", j.holds)
}
