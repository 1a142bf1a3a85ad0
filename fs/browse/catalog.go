package browse

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/kbackup/kbackup/store"
)

// catalog is the browse model: the topic list, manifests and indexes read
// from storage, each re-read lazily when older than refresh. It is safe for
// concurrent use.
type catalog struct {
	st      *store.Store
	refresh time.Duration
	now     func() time.Time
	stats   *Stats

	mu      sync.Mutex
	list    cached[[]string]
	topics  map[string]*cached[*store.Manifest]
	raws    map[string]*cached[[]byte]
	indexes map[store.Loc]*indexState
	gcache  groupsCache // consumer-group files per snapshot (groups.go)
}

func newCatalog(st *store.Store, refresh time.Duration, s *Stats) *catalog {
	return &catalog{
		st: st, refresh: refresh, now: time.Now, stats: s,
		topics:  map[string]*cached[*store.Manifest]{},
		raws:    map[string]*cached[[]byte]{},
		indexes: map[store.Loc]*indexState{},
	}
}

// cached is one value read from storage and when it was read. Its mutex
// serialises re-reads so concurrent lookups read storage once.
type cached[T any] struct {
	mu  sync.Mutex
	at  time.Time
	v   T
	err error
}

// get returns the value, calling load first if it is older than refresh.
func (c *cached[T]) get(now time.Time, refresh time.Duration, load func() (T, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || now.Sub(c.at) >= refresh {
		v, err := load()
		if err != nil && !store.IsNotFound(err) {
			// Keep serving the last good value on transient errors.
			if !c.at.IsZero() && c.err == nil {
				return c.v, nil
			}
			return v, err
		}
		c.v, c.err, c.at = v, err, now
	}
	return c.v, c.err
}

func entry[K comparable, V any](mu *sync.Mutex, m map[K]*V, k K) *V {
	mu.Lock()
	defer mu.Unlock()
	v, ok := m[k]
	if !ok {
		v = new(V)
		m[k] = v
	}
	return v
}

// topicList returns the sorted names of the topics in storage.
func (c *catalog) topicList(ctx context.Context) ([]string, error) {
	return c.list.get(c.now(), c.refresh, func() ([]string, error) {
		ts, err := c.st.ListTopics(ctx)
		slices.Sort(ts)
		return ts, err
	})
}

// hasTopic reports whether topic is in the (possibly refreshed) topic list.
func (c *catalog) hasTopic(ctx context.Context, topic string) (bool, error) {
	ts, err := c.topicList(ctx)
	if err != nil {
		return false, err
	}
	_, ok := slices.BinarySearch(ts, topic)
	return ok, nil
}

// manifest returns topic's manifest (synthetic v0 for the flat layout).
func (c *catalog) manifest(ctx context.Context, topic string) (*store.Manifest, error) {
	e := entry(&c.mu, c.topics, topic)
	return e.get(c.now(), c.refresh, func() (*store.Manifest, error) {
		c.stats.Manifests.Add(1)
		return c.st.ReadManifest(ctx, topic)
	})
}

// rawManifest returns the manifest's stored bytes; a flat-layout topic's
// synthetic manifest is rendered as YAML.
func (c *catalog) rawManifest(ctx context.Context, topic string) ([]byte, error) {
	e := entry(&c.mu, c.raws, topic)
	return e.get(c.now(), c.refresh, func() ([]byte, error) {
		c.stats.Manifests.Add(1)
		b, err := c.st.RawManifest(ctx, topic)
		if !store.IsNotFound(err) {
			return b, err
		}
		m, err := c.st.ReadManifest(ctx, topic)
		if err != nil {
			return nil, err
		}
		return marshalYAML(m)
	})
}

// indexState caches one snapshot's index with the head bytes it was read
// from, so a refresh costs one small read when nothing changed.
type indexState struct {
	mu   sync.Mutex
	at   time.Time
	head []byte
	ix   *store.Index
	text []byte // rendered index file of ix, built on demand
	// parts are the views of ix's partitions, built on demand. Listing
	// and looking up a partition's segments reuse them, so a Lookup (one
	// per entry when the kernel uses READDIRPLUS) costs a map access and a
	// binary search, not a pass over the partition.
	parts map[int32]*view
}

// index returns loc's index. The returned value is never modified: a new
// *store.Index is returned when the index changed in storage, so pointer
// identity tells whether two views are the same.
func (c *catalog) index(ctx context.Context, loc store.Loc) (*store.Index, error) {
	s := entry(&c.mu, c.indexes, loc)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := c.now()
	if s.ix != nil && now.Sub(s.at) < c.refresh {
		return s.ix, nil
	}
	c.stats.Heads.Add(1)
	head, err := c.st.RawIndex(ctx, loc)
	if err != nil {
		if s.ix != nil && !store.IsNotFound(err) {
			return s.ix, nil // serve the last good index on transient errors
		}
		return nil, err
	}
	if s.ix == nil || !bytes.Equal(head, s.head) {
		c.stats.Indexes.Add(1)
		ix, err := c.st.ReadIndexSince(ctx, loc, s.ix)
		if err != nil {
			if s.ix != nil && !store.IsNotFound(err) {
				return s.ix, nil
			}
			return nil, err
		}
		s.ix, s.head, s.text, s.parts = ix, head, nil, nil
	}
	s.at = now
	return s.ix, nil
}

// indexText returns loc's current index rendered as YAML, cached until the
// index changes.
func (c *catalog) indexText(ctx context.Context, loc store.Loc) ([]byte, error) {
	ix, err := c.index(ctx, loc)
	if err != nil {
		return nil, err
	}
	s := entry(&c.mu, c.indexes, loc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ix == ix && s.text != nil {
		return s.text, nil
	}
	b, err := renderIndex(ix)
	if err != nil {
		return nil, err
	}
	if s.ix == ix {
		s.text = b
	}
	return b, nil
}

// partition returns the view of partition p of loc's current index: its
// segments that hold records, in offset order, with cumulative decoded
// sizes. It is built once per index and shared; it is never modified.
func (c *catalog) partition(ctx context.Context, loc store.Loc, p int32) (*view, error) {
	ix, err := c.index(ctx, loc)
	if err != nil {
		return nil, err
	}
	s := entry(&c.mu, c.indexes, loc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.parts[p]; v != nil && s.ix == ix {
		return v, nil
	}
	v := newView(loc, withRecords(ix.Partition(p)))
	if s.ix == ix {
		if s.parts == nil {
			s.parts = map[int32]*view{}
		}
		s.parts[p] = v
	}
	return v, nil
}

// withRecords returns the entries of es that hold records. It returns es
// itself when all do (the usual case), so nothing is copied.
func withRecords(es []store.SegmentEntry) []store.SegmentEntry {
	i := slices.IndexFunc(es, func(e store.SegmentEntry) bool { return e.Records == 0 })
	if i < 0 {
		return es
	}
	out := make([]store.SegmentEntry, i, len(es)-1)
	copy(out, es[:i])
	for _, e := range es[i+1:] {
		if e.Records > 0 {
			out = append(out, e)
		}
	}
	return out
}
