package restore

import (
	"context"
	"fmt"
	"sort"

	"github.com/kbackup/kbackup/store"
)

// newestWithRecords chooses the version a mapping without a snapshot
// restores: the active one, or, when it holds no record yet (as right after
// snapshot create), the newest earlier version of the same topic
// incarnation that does. A version of an earlier incarnation (the topic was
// recreated) is never taken silently: the error says to name it. When no
// version holds a record the active one is returned.
func (r *restorer) newestWithRecords(ctx context.Context, topic string, man *store.Manifest) (int, error) {
	if len(man.Snapshots) < 2 {
		return man.Active, nil
	}
	snaps := append([]store.Snapshot(nil), man.Snapshots...)
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].Version > snaps[j].Version })
	active := man.ActiveSnapshot()
	for _, s := range snaps {
		if s.Version > man.Active {
			continue
		}
		n, err := r.recordsIn(ctx, store.Loc{Topic: topic, Version: s.Version})
		if err != nil {
			return 0, err
		}
		if n == 0 {
			continue
		}
		if s.Version == man.Active {
			return s.Version, nil
		}
		if active != nil && s.TopicID != active.TopicID {
			return 0, fmt.Errorf("%w: v%d, the active version, holds no record yet, and v%d, the newest with records, is an earlier incarnation of the topic (%s): set snapshot: v%d to restore it",
				ErrEarlierIncarnation, man.Active, s.Version, reasonOf(active), s.Version)
		}
		r.log.Info("restoring the newest version with records", "source", topic, "snapshot", fmt.Sprintf("v%d", s.Version),
			"why", fmt.Sprintf("v%d, the active version, holds no record yet", man.Active))
		return s.Version, nil
	}
	return man.Active, nil
}

// recordsIn counts the records loc's index names.
func (r *restorer) recordsIn(ctx context.Context, loc store.Loc) (int64, error) {
	ix, err := r.st.ReadIndex(ctx, loc)
	if store.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("source %s: %w", loc, err)
	}
	var n int64
	for _, ps := range ix.Partitions {
		n += ps.Records
	}
	return n, nil
}

func reasonOf(s *store.Snapshot) string {
	if s.Reason == "" {
		return "a new topic ID"
	}
	return s.Reason
}
