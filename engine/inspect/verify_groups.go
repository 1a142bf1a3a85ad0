package inspect

import (
	"context"
	"errors"
	"fmt"

	"github.com/kbackup/kbackup/store"
)

// ProblemGroups: a consumer-group capture does not parse, or its offsets
// cannot be a capture's.
const ProblemGroups = "groups"

// checkGroups reads every consumer-group capture of loc and checks what
// the store's decoder does not: the capture time matches the key's, no
// group-partition appears twice, and each log range is ordered. It counts
// the captures read into sc.
func checkGroups(ctx context.Context, st *store.Store, loc store.Loc, sc *SnapshotCheck) ([]Problem, error) {
	refs, err := st.GroupCaptures(ctx, loc)
	if err != nil {
		return nil, err
	}
	var out []Problem
	for _, ref := range refs {
		bad := func(format string, args ...any) {
			out = append(out, Problem{Object: ref.Key(), Kind: ProblemGroups, Damage: true, Detail: fmt.Sprintf(format, args...)})
		}
		c, err := st.ReadGroupCapture(ctx, ref)
		switch {
		case store.IsNotFound(err):
			continue // deleted meanwhile, with its snapshot
		case errors.Is(err, store.ErrCorrupt):
			bad("consumer-group capture is damaged: %v", err)
			continue
		case err != nil:
			return nil, err
		}
		sc.GroupCaptures++
		sc.Bytes += ref.Size
		if !c.Time.Equal(ref.Time) {
			bad("capture time %s differs from the time %s in its name", c.Time.UTC().Format("2006-01-02T15:04:05.999999999Z"), ref.Time.Format("2006-01-02T15:04:05.999999999Z"))
		}
		type gp struct {
			g string
			p int32
		}
		seen := map[gp]bool{}
		for _, o := range c.Offsets {
			if seen[gp{o.Group, o.Partition}] {
				bad("group %s has two offsets on partition %d", o.Group, o.Partition)
			}
			seen[gp{o.Group, o.Partition}] = true
			if o.LogStart >= 0 && o.LogEnd >= 0 && o.LogStart > o.LogEnd {
				bad("group %s, partition %d: log start %d is after log end %d", o.Group, o.Partition, o.LogStart, o.LogEnd)
			}
			if o.LogStart < -1 || o.LogEnd < -1 || o.LeaderEpoch < -1 {
				bad("group %s, partition %d: negative log range or leader epoch (%d, %d, epoch %d)", o.Group, o.Partition, o.LogStart, o.LogEnd, o.LeaderEpoch)
			}
		}
	}
	return out, nil
}
