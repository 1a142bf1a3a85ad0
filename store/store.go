package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"cloud.google.com/go/storage"
	"github.com/kbackup/kbackup/store/crypt"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob:// URLs
	_ "gocloud.dev/blob/fileblob"  // file:// URLs
	_ "gocloud.dev/blob/gcsblob"   // gs:// URLs
	_ "gocloud.dev/blob/memblob"   // mem:// URLs
	_ "gocloud.dev/blob/s3blob"    // s3:// URLs
	"gocloud.dev/gcerrors"
)

// Store is kbackup's storage: a bucket and the layout on it. It is safe for
// concurrent use.
type Store struct {
	b        *retryBucket
	url      string
	localDir string // set for file storage: enables atomic create by link

	// unsynced are the files of segments written on file storage but not
	// yet synced, by directory: the next index head written for that
	// directory syncs them all first (syncSegments), so that segments
	// committed together cost one directory sync.
	syncMu   sync.Mutex
	unsynced map[string][]string

	// keys is the backup's keyring when it is encrypted (crypt_store.go);
	// nil for a plain backup.
	keys *crypt.Keyring
}

// Open opens the plain (unencrypted) storage at rawURL: a gocloud.dev/blob
// URL (file://, mem://, s3://, gs://, azblob://) or a bare local path.
// Credentials come from each cloud's standard chain, never from the URL.
// OpenWith opens encrypted storage.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	return open(ctx, rawURL, true)
}

func open(ctx context.Context, rawURL string, create bool) (*Store, error) {
	u, local, err := normalizeURL(rawURL, create)
	if err != nil {
		return nil, err
	}
	b, err := blob.OpenBucket(ctx, u)
	if err != nil {
		// gocloud's message repeats the URL: redact it there too.
		msg := strings.ReplaceAll(err.Error(), u, Redact(u))
		return nil, &redactedError{msg: fmt.Sprintf("open storage %s: %s", Redact(rawURL), msg), err: err}
	}
	return &Store{b: newRetryBucket(b), url: Redact(rawURL), localDir: local}, nil
}

// New wraps an open bucket (the caller keeps ownership of its lifetime
// unless it calls Close).
func New(b *blob.Bucket) *Store { return &Store{b: newRetryBucket(b), url: "bucket"} }

// Close closes the bucket.
func (s *Store) Close() error { return s.b.Close() }

// URL returns the storage URL with any secrets removed, for messages.
func (s *Store) URL() string { return s.url }

// normalizeURL turns a bare path into a file URL and sets the fileblob
// options kbackup relies on. With create, a missing file storage directory
// is created; without, it is an error wrapping ErrNoBackup.
func normalizeURL(raw string, create bool) (u string, localDir string, err error) {
	if raw == "" {
		return "", "", ErrNoStorage
	}
	if !strings.Contains(raw, "://") {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return "", "", fmt.Errorf("storage path %q: %w", raw, err)
		}
		raw = "file://" + filepath.ToSlash(abs)
	}
	pu, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the unredacted URL
		}
		return "", "", fmt.Errorf("storage URL %q: %w", Redact(raw), err)
	}
	if pu.Scheme != "file" {
		return raw, "", nil
	}
	if pu.Path == "" || pu.Path == "/" {
		return "", "", fmt.Errorf("storage URL %q names no directory: use file:///absolute/path", raw)
	}
	q := pu.Query()
	if !create {
		if fi, err := os.Stat(pu.Path); err != nil || !fi.IsDir() {
			return "", "", fmt.Errorf("%w at %s: the directory does not exist", ErrNoBackup, pu.Path)
		}
	} else if q.Get("create_dir") == "" {
		if err := os.MkdirAll(pu.Path, 0o755); err != nil {
			return "", "", fmt.Errorf("storage directory %s cannot be created: %w", pu.Path, err)
		}
	}
	if q.Get("no_tmp_dir") == "" {
		q.Set("no_tmp_dir", "true")
	}
	if q.Get("metadata") == "" {
		q.Set("metadata", "skip")
	}
	local := pu.Path
	if p := q.Get("prefix"); p != "" {
		local = filepath.Join(local, filepath.FromSlash(p))
	}
	pu.RawQuery = q.Encode()
	return pu.String(), local, nil
}

// Redact removes userinfo and secret-looking query parameters from a URL.
// A URL that does not parse loses its userinfo and its whole query.
func Redact(raw string) string {
	pu, err := url.Parse(raw)
	if err != nil {
		return redactUnparsed(raw)
	}
	if pu.User == nil && pu.RawQuery == "" {
		return raw
	}
	pu.User = nil
	q := pu.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "secret") || strings.Contains(lk, "key") || strings.Contains(lk, "token") || strings.Contains(lk, "sig") || strings.Contains(lk, "password") {
			q.Set(k, "REDACTED")
		}
	}
	pu.RawQuery = q.Encode()
	return pu.String()
}

// redactUnparsed cuts the query and anything up to the last '@' after the
// scheme from a URL that url.Parse rejects.
func redactUnparsed(raw string) string {
	s, _, hadQuery := strings.Cut(raw, "?")
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.LastIndexByte(s[i+3:], '@'); j >= 0 {
			s = s[:i+3] + "REDACTED@" + s[i+3+j+1:]
		}
	} else if j := strings.LastIndexByte(s, '@'); j >= 0 {
		s = "REDACTED@" + s[j+1:]
	}
	if hadQuery {
		s += "?REDACTED"
	}
	return s
}

// redactedError is an error whose message had secrets removed; it still
// unwraps to the original error for errors.Is and gcerrors.Code.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// isNotFound reports whether err means the object does not exist.
func isNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }

// IsNotFound reports whether err means a missing object, topic or snapshot.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) || isNotFound(err) }

func (s *Store) read(ctx context.Context, key string) ([]byte, error) {
	b, err := s.b.ReadAll(ctx, key)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

func (s *Store) write(ctx context.Context, key string, data []byte) error {
	if err := s.b.WriteAll(ctx, key, data, nil); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

func (s *Store) exists(ctx context.Context, key string) (bool, error) {
	ok, err := s.b.Exists(ctx, key)
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", key, err)
	}
	return ok, nil
}

func (s *Store) delete(ctx context.Context, key string) error {
	if err := s.b.Delete(ctx, key); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// writeDurable replaces key with data; on file storage the data and the
// directory entry are synced before it returns.
func (s *Store) writeDurable(ctx context.Context, key string, data []byte) error {
	data = s.seal(key, data)
	if s.localDir != "" {
		if err := writeFileDurable(s.localPath(key), data); err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
		return nil
	}
	return s.write(ctx, key, data)
}

// segmentPartSize is the part (S3), block (Azure) or chunk (GCS) size of
// segment uploads: memory per open upload is a small multiple of it.
const segmentPartSize = 8 << 20

// retryUploadParts lets the GCS client retry a segment's upload chunks,
// which it otherwise only does for writes with preconditions. Segment keys
// are unique, so a repeated chunk cannot overwrite anything else. S3 and
// Azure retry parts and blocks by default.
func retryUploadParts(as func(any) bool) error {
	var oh **storage.ObjectHandle
	if as(&oh) {
		*oh = (*oh).Retryer(storage.WithPolicy(storage.RetryAlways))
	}
	return nil
}

// newSegmentUpload starts writing the object of segment id of loc under
// lease l (CreateSegment). The object appears only when Close succeeds,
// which it does only while l is valid; cancelling ctx, the end of the
// lease, or abort abandons it. On file storage Close syncs the segment to
// disk.
func (s *Store) newSegmentUpload(ctx context.Context, l *Lease, loc Loc, id string) (*segmentUpload, error) {
	return s.startSegmentUpload(ctx, l, loc, id, 0)
}

// newSpooledUpload is newSegmentUpload for a segment uploaded from a
// spool: one part buffer at a time, the one the spool's upload budget
// counts.
func (s *Store) newSpooledUpload(ctx context.Context, l *Lease, loc Loc, id string) (*segmentUpload, error) {
	return s.startSegmentUpload(ctx, l, loc, id, 1)
}

// startSegmentUpload starts the upload of a segment with up to conc part
// buffers (0: the SDK's default).
func (s *Store) startSegmentUpload(ctx context.Context, l *Lease, loc Loc, id string, conc int) (*segmentUpload, error) {
	key := loc.segmentKey(id)
	if err := l.checkFor(loc.Topic); err != nil {
		return nil, fmt.Errorf("start segment %s: %w", key, err)
	}
	uctx, cancel := l.Context(ctx)
	w, err := s.b.NewWriter(uctx, key, &blob.WriterOptions{
		ContentType:    "application/octet-stream",
		BufferSize:     segmentPartSize,
		MaxConcurrency: conc,
		BeforeWrite:    retryUploadParts,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("start segment %s: %w", key, err)
	}
	up := &segmentUpload{s: s, w: w, cancel: cancel, lease: l, key: key}
	if s.localDir != "" {
		up.path = s.localPath(key)
	}
	return up, nil
}

// segmentUpload is a segment object being written under a lease.
type segmentUpload struct {
	s      *Store
	w      *blob.Writer
	cancel context.CancelFunc
	lease  *Lease
	key    string
	path   string // file storage: synced before an index names it
}

func (u *segmentUpload) Write(p []byte) (int, error) { return u.w.Write(p) }

// abort abandons the upload.
func (u *segmentUpload) abort() {
	u.cancel()
	_ = u.w.Close()
}

// Close makes the segment visible if the lease is still valid, and
// abandons it otherwise.
func (u *segmentUpload) Close() error {
	defer u.cancel()
	if err := u.lease.Check(); err != nil {
		u.cancel()
		_ = u.w.Close()
		return fmt.Errorf("segment %s not written: %w", u.key, err)
	}
	err := u.w.Close()
	u.s.b.stats.count(OpUpload, err)
	if err != nil {
		if lerr := u.lease.Err(); lerr != nil {
			return fmt.Errorf("segment %s not written: %w", u.key, lerr)
		}
		return fmt.Errorf("upload segment %s: %w", u.key, err)
	}
	if u.path != "" {
		u.s.syncMu.Lock()
		if u.s.unsynced == nil {
			u.s.unsynced = map[string][]string{}
		}
		dir := filepath.Dir(u.path)
		u.s.unsynced[dir] = append(u.s.unsynced[dir], u.path)
		u.s.syncMu.Unlock()
	}
	return nil
}

// syncSegments syncs, on file storage, the segment files written in loc
// and not synced yet, then their directory: what an index head about to
// name them needs to survive a power loss.
func (s *Store) syncSegments(loc Loc) error {
	if s.localDir == "" {
		return nil
	}
	dir := filepath.Dir(s.localPath(loc.segmentKey("x")))
	s.syncMu.Lock()
	files := s.unsynced[dir]
	delete(s.unsynced, dir)
	s.syncMu.Unlock()
	if len(files) == 0 {
		return nil
	}
	for _, f := range files {
		if err := syncOnly(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sync segment %s: %w", f, err)
		}
	}
	return syncDir(dir)
}

// OpenSegment opens segment id of loc for reading; size is its stored size
// (from the index) or -1 to ask the storage.
func (s *Store) OpenSegment(ctx context.Context, loc Loc, id string, size int64) (*SegmentReader, error) {
	key := loc.segmentKey(id)
	if size < 0 {
		a, err := s.b.Attributes(ctx, key)
		if err != nil {
			if isNotFound(err) {
				return nil, fmt.Errorf("segment %s: %w", key, ErrNotFound)
			}
			return nil, fmt.Errorf("stat %s: %w", key, err)
		}
		size = a.Size
	}
	sr, err := openSegmentReader(&rangeReader{ctx: ctx, b: s.b, key: key}, size, s.segKeys(id))
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", key, err)
	}
	return sr, nil
}

// DeleteSegment removes segment id of loc under lease l.
func (s *Store) DeleteSegment(ctx context.Context, l *Lease, loc Loc, id string) error {
	if err := l.checkFor(loc.Topic); err != nil {
		return fmt.Errorf("delete %s: %w", loc.segmentKey(id), err)
	}
	ctx, cancel := l.Context(ctx) // a retried delete is abandoned when the lease ends
	defer cancel()
	return s.delete(ctx, loc.segmentKey(id))
}

// rangeReader adapts ranged bucket reads to io.ReaderAt.
type rangeReader struct {
	ctx context.Context
	b   *retryBucket
	key string
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.b.ReadRange(r.ctx, r.key, off, p)
	if err != nil && isNotFound(err) {
		return 0, fmt.Errorf("%s: %w", r.key, ErrNotFound)
	}
	return n, err
}

// ListTopics returns the names of all topics with a backup in storage.
func (s *Store) ListTopics(ctx context.Context) ([]string, error) {
	var topics []string
	objs, err := s.b.ListAll(ctx, &blob.ListOptions{Delimiter: "/"})
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	for _, o := range objs {
		if !o.IsDir {
			continue
		}
		name := strings.TrimSuffix(o.Key, "/")
		if ValidTopic(name) == nil {
			topics = append(topics, name)
		}
	}
	return topics, nil
}

// ListSegments returns the IDs and sizes of every segment object in loc,
// indexed or not.
func (s *Store) ListSegments(ctx context.Context, loc Loc) (map[string]int64, error) {
	dir := loc.dir()
	out := map[string]int64{}
	objs, err := s.b.ListAll(ctx, &blob.ListOptions{Prefix: dir, Delimiter: "/"})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	for _, o := range objs {
		if id := segmentID(dir, o.Key); id != "" && !o.IsDir {
			out[id] = o.Size
		}
	}
	return out, nil
}

// CleanTemp removes temporary files a crashed writer left in loc (file
// storage writes objects through "<key>.<hex>.tmp" files).
func (s *Store) CleanTemp(ctx context.Context, loc Loc) error {
	dir := loc.dir()
	objs, err := s.b.ListAll(ctx, &blob.ListOptions{Prefix: dir, Delimiter: "/"})
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, o := range objs {
		if !o.IsDir && strings.HasSuffix(o.Key, ".tmp") {
			if err := s.delete(ctx, o.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

// CopySegment streams segment id of loc into w.
func (s *Store) CopySegment(ctx context.Context, loc Loc, id string, w io.Writer) error {
	r, err := s.b.NewReader(ctx, loc.segmentKey(id), nil)
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("segment %s: %w", loc.segmentKey(id), ErrNotFound)
		}
		return fmt.Errorf("read %s: %w", loc.segmentKey(id), err)
	}
	defer r.Close()
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("read %s: %w", loc.segmentKey(id), err)
	}
	return nil
}
