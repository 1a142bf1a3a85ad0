package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"
)

// maxGroupCaptureBytes bounds one stored capture of consumer-group offsets
// (about 100 bytes an offset: some 600,000 group-partitions).
const maxGroupCaptureBytes = 64 << 20

// groupsDir holds a snapshot's consumer-group captures, one object each.
const groupsDir = "groups/"

// GroupOffset is the offset a consumer group had committed on one
// partition of a topic when it was captured.
type GroupOffset struct {
	Group     string `json:"group"`
	Partition int32  `json:"partition"`
	// Offset is the committed offset: the next record the group would read.
	Offset int64 `json:"offset"`
	// LeaderEpoch is the committed leader epoch, -1 when unknown.
	LeaderEpoch int32  `json:"leaderEpoch"`
	Metadata    string `json:"metadata,omitempty"`
	// LogStart and LogEnd are the partition's log start and end offsets
	// at capture time, -1 when unknown.
	LogStart int64 `json:"logStart"`
	LogEnd   int64 `json:"logEnd"`
}

// GroupCapture is one capture of the committed offsets of the consumer
// groups reading a topic.
type GroupCapture struct {
	Time    time.Time     `json:"time"`
	Offsets []GroupOffset `json:"offsets"`
}

// GroupCaptureRef names one stored capture; listing captures costs no
// read of their contents.
type GroupCaptureRef struct {
	Time time.Time
	Size int64
	key  string
}

// groupCaptureKey names a capture taken at t: the zero-padded Unix
// nanoseconds first, so that listings return captures in time order, then
// a random suffix so that two captures in one nanosecond do not collide.
func (l Loc) groupCaptureKey(t time.Time) string {
	var tok [4]byte
	_, _ = rand.Read(tok[:])
	return fmt.Sprintf("%s%s%020d-%s.json", l.dir(), groupsDir, t.UnixNano(), hex.EncodeToString(tok[:]))
}

// groupCaptureTime parses the time of a capture key directly in dir.
func groupCaptureTime(dir, key string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(key, dir)
	if !ok || strings.Contains(rest, "/") || !strings.HasSuffix(rest, ".json") {
		return time.Time{}, false
	}
	ns, _, ok := strings.Cut(rest, "-")
	if !ok || len(ns) != 20 {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n).UTC(), true
}

// PutGroupCapture stores one capture of loc's consumer-group offsets as its
// own object (O(1) per capture), under the topic's lease.
func (s *Store) PutGroupCapture(ctx context.Context, l *Lease, loc Loc, c GroupCapture) error {
	if err := l.checkFor(loc.Topic); err != nil {
		return err
	}
	if c.Time.IsZero() {
		return fmt.Errorf("group capture of %s: no capture time", loc)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if len(b) > maxGroupCaptureBytes {
		return fmt.Errorf("group capture of %s is %d bytes, more than the %d a capture may have: narrow --group", loc, len(b), maxGroupCaptureBytes)
	}
	ctx, cancel := l.Context(ctx)
	defer cancel()
	key := loc.groupCaptureKey(c.Time)
	if err := s.writeDurable(ctx, key, b); err != nil {
		return fmt.Errorf("store group capture of %s: %w", loc, err)
	}
	return nil
}

// GroupCaptures lists loc's stored captures, oldest first, without reading
// them. None is not an error.
func (s *Store) GroupCaptures(ctx context.Context, loc Loc) ([]GroupCaptureRef, error) {
	dir := loc.dir() + groupsDir
	objs, err := s.b.ListAll(ctx, &blob.ListOptions{Prefix: dir, Delimiter: "/"})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []GroupCaptureRef
	for _, o := range objs {
		if o.IsDir {
			continue
		}
		t, ok := groupCaptureTime(dir, o.Key)
		if !ok {
			continue
		}
		out = append(out, GroupCaptureRef{Time: t, Size: o.Size, key: o.Key})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// ReadGroupCapture reads one capture listed by GroupCaptures. Stored bytes
// that do not parse fail with ErrCorrupt.
func (s *Store) ReadGroupCapture(ctx context.Context, ref GroupCaptureRef) (*GroupCapture, error) {
	b, err := s.readLimited(ctx, ref.key, maxGroupCaptureBytes)
	if err != nil {
		return nil, err
	}
	return parseGroupCapture(ref.key, b)
}

// parseGroupCapture decodes a stored capture, refusing one whose offsets
// cannot be a capture's.
func parseGroupCapture(key string, b []byte) (*GroupCapture, error) {
	var c GroupCapture
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, key, err)
	}
	for _, o := range c.Offsets {
		if o.Group == "" || o.Partition < 0 || o.Offset < -1 {
			return nil, fmt.Errorf("%w: %s: offset %+v cannot be a committed offset", ErrCorrupt, key, o)
		}
	}
	return &c, nil
}

// GroupCaptureAt returns the newest capture of loc taken at or before at
// (the newest of all when at is zero). It fails with ErrNotFound when
// there is none.
func (s *Store) GroupCaptureAt(ctx context.Context, loc Loc, at time.Time) (*GroupCapture, error) {
	refs, err := s.GroupCaptures(ctx, loc)
	if err != nil {
		return nil, err
	}
	for i := len(refs) - 1; i >= 0; i-- {
		if at.IsZero() || !refs[i].Time.After(at) {
			return s.ReadGroupCapture(ctx, refs[i])
		}
	}
	return nil, fmt.Errorf("consumer-group offsets of %s as of %s: %w", loc, at.Format(time.RFC3339), ErrNotFound)
}

// Key is the capture's object key, for reports naming it.
func (r GroupCaptureRef) Key() string { return r.key }
