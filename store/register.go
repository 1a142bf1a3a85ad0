package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kbackup/kbackup/store/crypt"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// A register is a value that only changes by compare-and-swap, built from
// the one conditional write every backend offers: create-if-absent. Its
// entries are immutable objects <dir><SEQ> (SEQ zero-padded, from 1); the
// entry with the highest SEQ is the value. Writing the value that follows
// entry N means creating entry N+1, which fails for everyone but the first
// writer. A writer that remembers the entry it wrote last can therefore
// never overwrite a change it has not seen: that is the fencing the index
// head, the manifest and the lease rely on (docs/storage-format.md §8).
//
// Old entries are pruned by their writer; a reader that lists an entry and
// finds it pruned lists again.

// regEntry is one register entry.
type regEntry struct {
	seq  int64
	data []byte
	mod  time.Time // the storage's modification time of the entry
	// older are the entries below seq that the listing saw, for pruning.
	older []int64
}

// registerReadTries bounds how often readRegister lists again when the
// newest entry it listed was pruned before it could be read.
const registerReadTries = 4

// readRegister returns the newest entry of the register in dir, or an error
// wrapping ErrNotFound when it has none. Entries larger than limit bytes are
// corrupt.
func (s *Store) readRegister(ctx context.Context, dir string, limit int64) (*regEntry, error) {
	for try := 0; ; try++ {
		objs, err := s.b.ListAll(ctx, &blob.ListOptions{Prefix: dir, Delimiter: "/"})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
		e := &regEntry{}
		for _, o := range objs {
			seq, ok := registerSeq(dir, o.Key)
			if !ok || o.IsDir {
				continue
			}
			if seq > e.seq {
				if e.seq > 0 {
					e.older = append(e.older, e.seq)
				}
				e.seq, e.mod = seq, o.ModTime
			} else {
				e.older = append(e.older, seq)
			}
		}
		if e.seq == 0 {
			return nil, fmt.Errorf("%s: %w", dir, ErrNotFound)
		}
		e.data, err = s.readLimited(ctx, registerKey(dir, e.seq), limit)
		if IsNotFound(err) && try+1 < registerReadTries {
			continue // pruned after the listing: a newer entry exists
		}
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}

// readRegisterEntry reads entry seq of the register in dir.
func (s *Store) readRegisterEntry(ctx context.Context, dir string, seq int64, limit int64) ([]byte, error) {
	return s.readLimited(ctx, registerKey(dir, seq), limit)
}

// createRegisterEntry creates entry seq of the register in dir. It fails
// with errExists when the entry exists: someone else wrote the value that
// follows seq-1.
func (s *Store) createRegisterEntry(ctx context.Context, dir string, seq int64, data []byte) error {
	return s.createExclusive(ctx, registerKey(dir, seq), data)
}

// pruneRegister deletes the given entries of the register in dir. Failures
// are ignored: a later prune retries them. Under a lease (l not nil: the
// index and manifest registers) every delete is a write like any other:
// it runs under the lease's context, so that a delete retried on a failing
// storage is abandoned when the lease ends, and none is sent after. The
// lease register itself passes nil: it is its own fence.
func (s *Store) pruneRegister(ctx context.Context, l *Lease, dir string, seqs ...int64) {
	if l != nil {
		var cancel context.CancelFunc
		ctx, cancel = l.Context(ctx)
		defer cancel()
	}
	for _, seq := range seqs {
		if l != nil && l.Check() != nil {
			return
		}
		if seq > 0 {
			_ = s.delete(ctx, registerKey(dir, seq))
		}
	}
}

// registerExists reports whether the register in dir has an entry.
func (s *Store) registerExists(ctx context.Context, dir string) (bool, error) {
	var page []*blob.ListObject
	err := s.b.do(ctx, OpList, func(ctx context.Context) (err error) {
		page, _, err = s.b.Bucket.ListPage(ctx, blob.FirstPageToken, 8, &blob.ListOptions{Prefix: dir, Delimiter: "/"})
		if isNotFound(err) {
			return fmt.Errorf("%w: %v", errListRace, err)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("list %s: %w", dir, err)
	}
	for _, o := range page {
		if _, ok := registerSeq(dir, o.Key); ok && !o.IsDir {
			return true, nil
		}
	}
	return false, nil
}

// readLimited reads a whole object, failing with ErrCorrupt when it is
// larger than limit bytes: no stored object makes a reader allocate more
// than the limit documented for its kind.
func (s *Store) readLimited(ctx context.Context, key string, limit int64) ([]byte, error) {
	if s.keys != nil && key != markerKey {
		limit += int64(crypt.ObjectOverhead)
	}
	var data []byte
	err := s.b.do(ctx, OpGet, func(ctx context.Context) error {
		r, err := s.b.Bucket.NewReader(ctx, key, nil)
		if err != nil {
			return err
		}
		defer r.Close()
		if r.Size() > limit {
			return fmt.Errorf("%w: %s is %d bytes, more than the %d bytes an object of its kind may have", ErrCorrupt, key, r.Size(), limit)
		}
		data, err = io.ReadAll(io.LimitReader(r, limit+1))
		if err == nil && int64(len(data)) > limit {
			return fmt.Errorf("%w: %s is more than the %d bytes an object of its kind may have", ErrCorrupt, key, limit)
		}
		return err
	})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		if errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return s.open(ctx, key, data)
}

// createExclusive writes key only if it does not exist yet, atomically even
// between processes. It returns errExists when the object exists.
func (s *Store) createExclusive(ctx context.Context, key string, data []byte) error {
	data = s.seal(key, data)
	if s.localDir != "" {
		return createExclusiveFile(s.localPath(key), data)
	}
	err := s.b.WriteAll(ctx, key, data, &blob.WriterOptions{IfNotExist: true})
	switch gcerrors.Code(err) {
	case gcerrors.OK:
		return nil
	case gcerrors.FailedPrecondition, gcerrors.AlreadyExists:
		return errExists
	case gcerrors.Unimplemented:
		return ErrNoAtomicCreate
	}
	return fmt.Errorf("create %s: %w", key, err)
}

// localPath is the file of key on file storage.
func (s *Store) localPath(key string) string {
	return filepath.Join(s.localDir, filepath.FromSlash(key))
}

// createExclusiveFile links a fully written and synced temporary file into
// place; link fails if the target exists, which makes the create atomic
// across processes. The directory is synced so that the entry survives a
// power loss once this returns.
func createExclusiveFile(path string, data []byte) error {
	tmp, err := writeTempSynced(path, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return errExists
		}
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeFileDurable replaces path with data through a synced temporary file
// and a rename, then syncs the directory.
func writeFileDurable(path string, data []byte) error {
	tmp, err := writeTempSynced(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeTempSynced writes data into a new temporary file beside path and
// syncs it. Its name starts with a dot and ends in .tmp, so listings of
// registers ignore it and CleanTemp removes it.
func writeTempSynced(path string, data []byte) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".kbackup-*.tmp")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// syncOnly syncs an existing file.
func syncOnly(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir syncs a directory so that the entries created in it persist.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
