package browse

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/kbackup/kbackup/store"
)

// GroupLine is one line of topics/T/snapshots/vN/groups/GROUP.jsonl: the
// offset GROUP had committed on one partition of T at the snapshot's
// newest consumer-group capture.
type GroupLine struct {
	Group       string    `json:"group"`
	Topic       string    `json:"topic"`
	Partition   int32     `json:"partition"`
	Offset      int64     `json:"offset"`
	LeaderEpoch int32     `json:"leader_epoch"`
	Metadata    string    `json:"metadata"`
	CaptureTime time.Time `json:"capture_time"`
	LogStart    int64     `json:"log_start"`
	LogEnd      int64     `json:"log_end"`
	// Lag is LogEnd-Offset, the records the group had not read yet; absent
	// when the log end is unknown.
	Lag *int64 `json:"lag,omitempty"`
}

// groupFiles is a snapshot's groups/ directory, rendered from one capture.
type groupFiles struct {
	time  time.Time
	names []string          // groups with a file, sorted
	files map[string][]byte // group -> its JSON lines
}

// groupsState caches a snapshot's groups/ with the capture it was
// rendered from, so that a refresh costs one listing when no capture came.
type groupsState struct {
	mu  sync.Mutex
	at  time.Time
	key string // the capture rendered, "" for none
	gf  *groupFiles
}

// groupsCache holds the groupsState of every snapshot seen.
type groupsCache struct {
	mu sync.Mutex
	m  map[store.Loc]*groupsState
}

// groups returns loc's groups/ as of its newest readable capture, nil when
// it has none.
func (c *catalog) groups(ctx context.Context, loc store.Loc) (*groupFiles, error) {
	c.gcache.mu.Lock()
	if c.gcache.m == nil {
		c.gcache.m = map[store.Loc]*groupsState{}
	}
	s := c.gcache.m[loc]
	if s == nil {
		s = &groupsState{}
		c.gcache.m[loc] = s
	}
	c.gcache.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := c.now()
	if !s.at.IsZero() && now.Sub(s.at) < c.refresh {
		return s.gf, nil
	}
	refs, err := c.st.GroupCaptures(ctx, loc)
	if err != nil {
		if s.at.IsZero() {
			return nil, err
		}
		return s.gf, nil // keep serving the last good listing
	}
	// The newest capture that reads: a damaged one (verify reports it)
	// hides no older one.
	for i := len(refs) - 1; i >= 0; i-- {
		if refs[i].Key() == s.key {
			s.at = now
			return s.gf, nil
		}
		gc, err := c.st.ReadGroupCapture(ctx, refs[i])
		if errors.Is(err, store.ErrCorrupt) || store.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		gf, err := renderGroups(loc.Topic, gc)
		if err != nil {
			return nil, err
		}
		s.at, s.key, s.gf = now, refs[i].Key(), gf
		return gf, nil
	}
	s.at, s.key, s.gf = now, "", nil
	return nil, nil
}

// renderGroups renders one file per group of a capture, lines in
// partition order.
func renderGroups(topic string, gc *store.GroupCapture) (*groupFiles, error) {
	offs := append([]store.GroupOffset(nil), gc.Offsets...)
	sort.SliceStable(offs, func(i, j int) bool {
		if offs[i].Group != offs[j].Group {
			return offs[i].Group < offs[j].Group
		}
		return offs[i].Partition < offs[j].Partition
	})
	gf := &groupFiles{time: gc.Time.UTC(), files: map[string][]byte{}}
	for _, o := range offs {
		if !GroupFileOK(o.Group) {
			continue
		}
		l := GroupLine{Group: o.Group, Topic: topic, Partition: o.Partition, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch,
			Metadata: o.Metadata, CaptureTime: gf.time, LogStart: o.LogStart, LogEnd: o.LogEnd}
		if o.LogEnd >= 0 && o.Offset >= 0 {
			lag := max(o.LogEnd-o.Offset, 0)
			l.Lag = &lag
		}
		b, err := json.Marshal(l)
		if err != nil {
			return nil, err
		}
		if _, ok := gf.files[o.Group]; !ok {
			gf.names = append(gf.names, o.Group)
		}
		gf.files[o.Group] = append(append(gf.files[o.Group], b...), '\n')
	}
	return gf, nil
}

// statGroups answers Stat for groups/ and its files.
func (t *Tree) statGroups(ctx context.Context, p Path) (Entry, error) {
	gf, err := t.cat.groups(ctx, p.Loc())
	if err != nil {
		return Entry{}, err
	}
	if gf == nil {
		return Entry{}, store.ErrNotFound
	}
	if p.Kind == KindGroups {
		return t.dir(p, gf.time), nil
	}
	b, ok := gf.files[p.Group]
	if !ok {
		return Entry{}, store.ErrNotFound
	}
	return Entry{Path: p, Type: TypeFile, Size: int64(len(b)), ModTime: gf.time}, nil
}

// listGroups lists groups/ (p may go through latest/).
func (t *Tree) listGroups(ctx context.Context, p, r Path) ([]Entry, error) {
	gf, err := t.cat.groups(ctx, r.Loc())
	if err != nil || gf == nil {
		return nil, err
	}
	es := make([]Entry, 0, len(gf.names))
	for _, g := range gf.names {
		c := p
		c.Kind, c.Group = KindGroup, g
		es = append(es, Entry{Path: c, Type: TypeFile, Size: int64(len(gf.files[g])), ModTime: gf.time})
	}
	return es, nil
}

// hasGroups reports whether snapshot r shows groups/.
func (t *Tree) hasGroups(ctx context.Context, r Path) (bool, error) {
	gf, err := t.cat.groups(ctx, r.Loc())
	return gf != nil, err
}

// groupContent is the content of a group's file.
func (t *Tree) groupContent(ctx context.Context, p Path) ([]byte, error) {
	gf, err := t.cat.groups(ctx, p.Loc())
	if err != nil {
		return nil, err
	}
	if gf == nil {
		return nil, store.ErrNotFound
	}
	b, ok := gf.files[p.Group]
	if !ok {
		return nil, store.ErrNotFound
	}
	return b, nil
}
