package store

import (
	"context"
	"fmt"
	"strings"

	"gocloud.dev/blob"
)

// OpenExisting opens storage that must already exist, for commands that
// only read: it creates nothing, and a missing file storage directory is an
// error wrapping ErrNoBackup that names it. CheckBackup then tells whether
// the storage holds a backup.
func OpenExisting(ctx context.Context, rawURL string) (*Store, error) {
	return open(ctx, rawURL, false)
}

// CheckBackup returns an error wrapping ErrNoBackup, naming the storage,
// when no topic in it has kbackup's layout, so that a mistyped path is not
// taken for an empty backup.
func (s *Store) CheckBackup(ctx context.Context) error {
	ok, err := s.holdsBackup(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w at %s: no topic there has a manifest or an index (check --storage)", ErrNoBackup, s.url)
	}
	return nil
}

// holdsBackup reports whether any topic directory holds a manifest, an
// index or a lease: the objects every backed-up topic has.
func (s *Store) holdsBackup(ctx context.Context) (bool, error) {
	topics, err := s.ListTopics(ctx)
	if err != nil {
		return false, err
	}
	marks := map[string]bool{
		manifestName: true, manifestsDir: true, indexName: true, partsDir: true,
		leaseName: true, leasesDir: true, snapshotsDir: true,
	}
	for _, t := range topics {
		objs, err := s.b.ListAll(ctx, &blob.ListOptions{Prefix: topicDir(t), Delimiter: "/"})
		if err != nil {
			return false, fmt.Errorf("list %s: %w", topicDir(t), err)
		}
		for _, o := range objs {
			if marks[strings.TrimPrefix(o.Key, topicDir(t))] {
				return true, nil
			}
		}
	}
	return false, nil
}
