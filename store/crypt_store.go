package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/kbackup/kbackup/store/crypt"
	"gocloud.dev/blob"
)

// markerKey is the encryption marker at the storage root: present, the
// backup is encrypted and it holds the wrapped master key. Its name has a
// '+', which no Kafka topic name has, so it never meets a topic's keys.
const markerKey = ".kbackup+encryption"

// Errors of encrypted storage.
var (
	// ErrEncrypted means encrypted storage was opened without a key.
	ErrEncrypted = errors.New("storage is encrypted")
	// ErrNotEncrypted means a key was given for storage holding a plain
	// backup.
	ErrNotEncrypted = errors.New("storage holds a plain (unencrypted) backup")
	// ErrWrongKey means the key given cannot open the storage's key.
	ErrWrongKey = crypt.ErrWrongKey
)

// Options are the settings of OpenWith.
type Options struct {
	// EncryptionKey is the URL of the key-encryption key, a
	// gocloud.dev/secrets keeper (base64key://, and the cloud KMS schemes
	// the binary registers). Set, the storage must be encrypted with it,
	// or empty (it then becomes encrypted); empty, it must be plain.
	EncryptionKey string
	// Existing opens storage that must already exist: it is never
	// created (OpenExisting), as read-only commands need.
	Existing bool
}

// OpenWith opens the storage at rawURL (Open) with options o.
func OpenWith(ctx context.Context, rawURL string, o Options) (*Store, error) {
	s, err := open(ctx, rawURL, !o.Existing)
	if err != nil {
		return nil, err
	}
	if err := s.applyKey(ctx, o.EncryptionKey); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// applyKey opens the storage's key with kekURL (useKey) or, without one,
// fails with ErrEncrypted on encrypted storage: a command then stops at
// start in one line naming --encryption-key, instead of mounting or
// serving a tree whose every read fails.
func (s *Store) applyKey(ctx context.Context, kekURL string) error {
	if kekURL == "" {
		return s.checkPlain(ctx)
	}
	return s.useKey(ctx, kekURL)
}

// NewWith wraps an open bucket (New) with options o.
func NewWith(ctx context.Context, b *blob.Bucket, o Options) (*Store, error) {
	s := New(b)
	if err := s.applyKey(ctx, o.EncryptionKey); err != nil {
		return nil, err
	}
	return s, nil
}

// Encrypted reports whether the store encrypts what it writes.
func (s *Store) Encrypted() bool { return s.keys != nil }

// readMarker returns the storage's encryption marker, or an error wrapping
// ErrNotFound.
func (s *Store) readMarker(ctx context.Context) (*crypt.Marker, error) {
	b, err := s.readLimited(ctx, markerKey, crypt.MaxMarkerBytes)
	if err != nil {
		return nil, err
	}
	m, err := crypt.ParseMarker(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, markerKey, err)
	}
	return m, nil
}

// useKey opens the storage's master key with the KEK at kekURL, or makes
// the storage encrypted if it is empty.
func (s *Store) useKey(ctx context.Context, kekURL string) error {
	name := crypt.KEKName(kekURL)
	m, err := s.readMarker(ctx)
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("storage %s: %w", s.url, err)
	}
	kek, err := crypt.OpenKEK(ctx, kekURL)
	if err != nil {
		return err
	}
	defer kek.Close()
	if m == nil {
		topics, err := s.ListTopics(ctx)
		if err != nil {
			return err
		}
		if len(topics) > 0 {
			return fmt.Errorf("%w: storage %s holds plain backups of %d topics (%s, …), so encryption key %s cannot be used there: a backup is all encrypted or all plain; give the encrypted backup storage of its own (another bucket, or prefix=)", ErrNotEncrypted, s.url, len(topics), topics[0], name)
		}
		k := crypt.NewKeyring()
		nm, err := crypt.Wrap(ctx, kek, kekURL, k)
		if err != nil {
			return err
		}
		switch err := s.createExclusive(ctx, markerKey, nm.Encode()); {
		case err == nil:
			s.keys = k
			return nil
		case !errors.Is(err, errExists):
			return fmt.Errorf("storage %s: write encryption marker: %w", s.url, err)
		}
		// Another process made the storage encrypted first: use its key.
		if m, err = s.readMarker(ctx); err != nil {
			return fmt.Errorf("storage %s: %w", s.url, err)
		}
	}
	k, err := crypt.Unwrap(ctx, kek, kekURL, m)
	if err != nil {
		return fmt.Errorf("storage %s: %w", s.url, err)
	}
	s.keys = k
	return nil
}

// checkPlain fails with ErrEncrypted if the storage of a store opened
// without a key is encrypted: a plain writer never adds plain data to an
// encrypted backup.
func (s *Store) checkPlain(ctx context.Context) error {
	if s.keys != nil {
		return nil
	}
	ok, err := s.exists(ctx, markerKey)
	if err != nil || !ok {
		return err
	}
	kek := "(unknown: its marker does not parse)"
	if m, err := s.readMarker(ctx); err == nil {
		kek = m.KEK
	}
	return errEncrypted(s.url, kek)
}

func errEncrypted(url, kek string) error {
	return fmt.Errorf("%w: storage %s is encrypted with key %s: pass --encryption-key (or set KBACKUP_ENCRYPTION_KEY) with that key", ErrEncrypted, url, kek)
}

// seal returns data as stored under key: sealed in an encrypted backup
// (every object but the marker and the storage clock), as is otherwise.
func (s *Store) seal(key string, data []byte) []byte {
	if s.keys == nil || key == markerKey {
		return data
	}
	return s.keys.SealObject(key, data)
}

// open returns the plain bytes of object key as read. A sealed object in a
// store opened without a key fails with ErrEncrypted.
func (s *Store) open(ctx context.Context, key string, data []byte) ([]byte, error) {
	if key == markerKey {
		return data, nil
	}
	if s.keys == nil {
		if crypt.IsSealedObject(data) {
			kek := "(unknown: its marker is missing)"
			if m, err := s.readMarker(ctx); err == nil {
				kek = m.KEK
			}
			return nil, errEncrypted(s.url, kek)
		}
		return data, nil
	}
	plain, err := s.keys.OpenObject(key, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, key, err)
	}
	return plain, nil
}

// segKeys returns how to key segment id: nil for a plain backup.
func (s *Store) segKeys(id string) segKeys {
	if s.keys == nil {
		return nil
	}
	return func(salt []byte) (*crypt.Segment, error) { return s.keys.Segment(id, salt) }
}

// RotateKey wraps the backup's key again under the KEK at newURL and
// replaces the marker: the only object rewritten, so segments and
// metadata stay as they are. The old KEK no longer opens the storage;
// processes that opened it before keep working with the key they hold.
func (s *Store) RotateKey(ctx context.Context, newURL string) error {
	if s.keys == nil {
		return fmt.Errorf("%w: storage %s was opened without an encryption key: there is no key to rotate", ErrNotEncrypted, s.url)
	}
	kek, err := crypt.OpenKEK(ctx, newURL)
	if err != nil {
		return err
	}
	defer kek.Close()
	m, err := crypt.Wrap(ctx, kek, newURL, s.keys)
	if err != nil {
		return err
	}
	if err := s.writeDurable(ctx, markerKey, m.Encode()); err != nil {
		return fmt.Errorf("storage %s: rotate key: %w", s.url, err)
	}
	got, err := s.readMarker(ctx)
	if err != nil {
		return fmt.Errorf("storage %s: read the rotated marker: %w", s.url, err)
	}
	if _, err := crypt.Unwrap(ctx, kek, newURL, got); err != nil {
		return fmt.Errorf("storage %s: the rotated marker does not open: %w", s.url, err)
	}
	return nil
}

// maxCheckedObject bounds the objects other than segments CheckKey reads
// (the largest kind, index heads and parts, is 16 MiB).
const maxCheckedObject = 16 << 20

// CheckKey proves that every object of the storage opens with the store's
// key: each segment is read whole and every frame authenticated
// (CheckSegment), every other object opened once. fn is called for each
// object with nil or the reason it does not open; storage clock probes
// (__time, a constant) and temporary files are passed over.
func (s *Store) CheckKey(ctx context.Context, fn func(key string, err error)) error {
	if s.keys == nil {
		return fmt.Errorf("%w: storage %s was opened without an encryption key", ErrNotEncrypted, s.url)
	}
	it := s.b.List(nil)
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list storage %s: %w", s.url, err)
		}
		k := o.Key
		switch {
		case o.IsDir, k == markerKey, path.Base(k) == timeName, strings.HasSuffix(k, ".tmp"):
			continue
		case strings.HasSuffix(k, segmentExt):
			fn(k, s.checkSegmentKey(ctx, k, o.Size))
		default:
			_, err := s.readLimited(ctx, k, maxCheckedObject)
			fn(k, err)
		}
	}
}

// checkSegmentKey scans the segment object key of size bytes.
func (s *Store) checkSegmentKey(ctx context.Context, key string, size int64) error {
	r, err := s.b.NewReader(ctx, key, nil)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	id := strings.TrimSuffix(path.Base(key), segmentExt)
	if _, err := scanSegment(r, size, s.segKeys(id)); err != nil {
		return fmt.Errorf("segment %s: %w", key, err)
	}
	return nil
}
