package store

import (
	"context"
	"fmt"

	"gocloud.dev/blob"
)

// DeleteVersion removes snapshot loc of its topic under lease l: first its
// entry from the manifest, so that no reader or restore finds it any more,
// then every object under its directory (index and segments). The active
// version cannot be deleted. Deleting a version the manifest no longer
// lists removes what an interrupted delete left behind. It returns the
// number of objects and bytes deleted.
func (s *Store) DeleteVersion(ctx context.Context, l *Lease, loc Loc) (objects int, bytes int64, err error) {
	if loc.Version < 1 {
		return 0, 0, fmt.Errorf("topic %s: %w", loc.Topic, ErrFlatLayout)
	}
	if err := l.checkFor(loc.Topic); err != nil {
		return 0, 0, err
	}
	_, err = s.UpdateManifest(ctx, l, func(m *Manifest) error {
		if m.Active == loc.Version {
			return fmt.Errorf("%s is the active version, which the backup writes to: cut a new one first (kbackup snapshot create %s)", loc, loc.Topic)
		}
		for i, sn := range m.Snapshots {
			if sn.Version == loc.Version {
				m.Snapshots = append(m.Snapshots[:i], m.Snapshots[i+1:]...)
				break
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := l.Context(ctx)
	defer cancel()
	objs, err := s.b.ListAll(ctx, &blob.ListOptions{Prefix: loc.dir()})
	if err != nil {
		return 0, 0, fmt.Errorf("list %s: %w", loc.dir(), err)
	}
	for _, o := range objs {
		if o.IsDir {
			continue
		}
		if err := l.Check(); err != nil {
			return objects, bytes, err
		}
		if err := s.delete(ctx, o.Key); err != nil {
			return objects, bytes, err
		}
		objects++
		bytes += o.Size
	}
	return objects, bytes, nil
}
