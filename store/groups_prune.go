package store

import (
	"context"
	"fmt"
	"time"
)

// PruneGroupCaptures deletes, under the topic's lease, loc's captures
// taken before before, except the newest of them: it still answers for
// every time from its own until the next capture (GroupCaptureAt), so
// pruning changes no answer for a time at or after before. It returns the
// keys deleted, oldest first; a pass cut short is finished by the next.
func (s *Store) PruneGroupCaptures(ctx context.Context, l *Lease, loc Loc, before time.Time) ([]string, error) {
	if err := l.checkFor(loc.Topic); err != nil {
		return nil, err
	}
	refs, err := s.GroupCaptures(ctx, loc)
	if err != nil {
		return nil, err
	}
	keep := -1 // the newest capture before `before`
	for i, r := range refs {
		if r.Time.Before(before) {
			keep = i
		}
	}
	var deleted []string
	for _, r := range refs[:max(keep, 0)] {
		if err := l.Check(); err != nil {
			return deleted, err
		}
		if err := s.delete(ctx, r.key); err != nil {
			return deleted, fmt.Errorf("prune group captures of %s: %w", loc, err)
		}
		deleted = append(deleted, r.key)
	}
	return deleted, nil
}
