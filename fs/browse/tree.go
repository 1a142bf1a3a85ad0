package browse

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/kbackup/kbackup/store"
)

// DefaultRefresh is how often, at most, the tree re-reads the topic list,
// manifests and index heads when Options.Refresh is zero.
const DefaultRefresh = 5 * time.Second

// Options configure a Tree. The zero value is usable.
type Options struct {
	// Refresh is the age after which the topic list, a manifest or an
	// index head is read again on access; zero selects DefaultRefresh.
	Refresh time.Duration
	// Restorer runs the restores asked for under restore/. Nil makes
	// restore/ hold only README, which says why.
	Restorer Restorer
	// Logger receives errors such as missing segments; nil discards them.
	Logger *slog.Logger
}

// Tree is the browse model: the catalog of what storage holds (topics,
// manifests, indexes, re-read lazily) and the tree of paths that the
// adapters (the FUSE mount, the WebDAV server) show. It is safe for
// concurrent use.
type Tree struct {
	ctx      context.Context // bounds the reads of open files
	st       *store.Store
	cat      *catalog
	log      *slog.Logger
	started  time.Time
	restorer Restorer
	stats    Stats
	raws     sync.Pool // *[]byte buffers for decompressed block payloads
	lines    sync.Pool // *[]byte buffers for decoded blocks, from closed files
}

// New returns the tree of st. Files opened from it read until ctx ends.
func New(ctx context.Context, st *store.Store, opts Options) *Tree {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tree{ctx: ctx, st: st, log: opts.Logger, started: time.Now(), restorer: opts.Restorer}
	t.cat = newCatalog(st, opts.Refresh, &t.stats)
	return t
}

// Stats returns the tree's storage counters.
func (t *Tree) Stats() *Stats { return &t.stats }

// Started is when the tree was made: the time of entries that have none
// of their own.
func (t *Tree) Started() time.Time { return t.started }

// Restorer returns the Restorer restore/ hands requests to, or nil.
func (t *Tree) Restorer() Restorer { return t.restorer }

// Type is what an entry is.
type Type int

// Entry types.
const (
	TypeDir Type = iota
	TypeFile
	TypeLink
)

// Entry is a file, directory or link of the tree and its attributes.
type Entry struct {
	Path Path
	Type Type
	// Size is, for a file, the exact number of bytes a read returns
	// (decoded JSON lines, rendered text); for a link, its target's
	// length.
	Size int64
	// Stored and Records are, for records.jsonl, a segment file and a
	// partition, the bytes in storage behind it and its record count.
	Stored  int64
	Records int64
	// ModTime is the last record's time for records and segments, the
	// creation time for a snapshot, else when the tree was made.
	ModTime time.Time
	// Link is a link's target, relative to its directory.
	Link string
	// Immutable entries (segment files) never change.
	Immutable bool
	// ContentID identifies the bytes of a records.jsonl (see contentID):
	// two entries of one path with the same ContentID read the same
	// bytes; for a segments/ directory, the same segments. Zero for other
	// entries.
	ContentID uint64
}

// Name is the entry's last path element.
func (e Entry) Name() string { return e.Path.Base() }

// IsDir reports whether the entry is a directory.
func (e Entry) IsDir() bool { return e.Type == TypeDir }

// Resolve returns p with topics/T/latest replaced by the active snapshot
// of T: a path through latest/ names the same file as its snapshots/vN
// path, and latest itself becomes the snapshot directory. Other paths
// are returned as they are.
func (t *Tree) Resolve(ctx context.Context, p Path) (Path, error) {
	if !p.Latest && p.Kind != KindLatest {
		return p, nil
	}
	m, err := t.cat.manifest(ctx, p.Topic)
	if err != nil {
		return Path{}, err
	}
	if p.Kind == KindLatest {
		p.Kind = KindSnapshot
	}
	p.Latest, p.Version = false, m.Active
	return p, nil
}

func (t *Tree) dir(p Path, mtime time.Time) Entry {
	if mtime.IsZero() {
		mtime = t.started
	}
	return Entry{Path: p, Type: TypeDir, ModTime: mtime}
}

func (t *Tree) text(p Path, b []byte) Entry {
	return Entry{Path: p, Type: TypeFile, Size: int64(len(b)), ModTime: t.started}
}

// Stat returns the entry at p, or an error matching store.ErrNotFound when
// there is none. A path through latest/ is resolved, but the entry keeps
// the path asked for.
func (t *Tree) Stat(ctx context.Context, p Path) (Entry, error) {
	e, err := t.stat(ctx, p)
	e.Path = p
	return e, err
}

func (t *Tree) stat(ctx context.Context, p Path) (Entry, error) {
	switch p.Kind {
	case KindRoot, KindTopics, KindRestores:
		return t.dir(p, time.Time{}), nil
	case KindTopic:
		ok, err := t.cat.hasTopic(ctx, p.Topic)
		if err != nil {
			return Entry{}, err
		}
		if !ok {
			return Entry{}, store.ErrNotFound
		}
		return t.dir(p, time.Time{}), nil
	case KindRestore, KindRestoreStatus:
		return t.statRestore(ctx, p)
	}
	m, err := t.cat.manifest(ctx, p.Topic)
	if err != nil {
		return Entry{}, err
	}
	if p.Latest {
		p.Latest, p.Version = false, m.Active
	}
	switch p.Kind {
	case KindManifest:
		b, err := t.cat.rawManifest(ctx, p.Topic)
		if err != nil {
			return Entry{}, err
		}
		return t.text(p, b), nil
	case KindLatest:
		l := linkTarget(m.Active)
		return Entry{Path: p, Type: TypeLink, Size: int64(len(l)), Link: l, ModTime: t.started}, nil
	case KindSnapshots:
		var newest time.Time
		for _, s := range m.Snapshots {
			if s.Created.After(newest) {
				newest = s.Created
			}
		}
		return t.dir(p, newest), nil
	}
	s, ok := m.Get(p.Version)
	if !ok {
		return Entry{}, store.ErrNotFound
	}
	switch p.Kind {
	case KindSnapshot:
		return t.dir(p, s.Created), nil // flat layout: no creation time
	case KindSnapshotYAML, KindIndex:
		b, err := t.snapshotText(ctx, p)
		if err != nil {
			return Entry{}, err
		}
		return t.text(p, b), nil
	case KindGroups, KindGroup:
		return t.statGroups(ctx, p)
	}
	v, err := t.partition(ctx, p.Loc(), p.Partition, s)
	if err != nil {
		return Entry{}, err
	}
	switch p.Kind {
	case KindPartition, KindSegments:
		e := t.dir(p, v.lastTime())
		e.Stored, e.Records = v.totals()
		if p.Kind == KindSegments {
			e.ContentID = v.id // the same segments as records.jsonl
		}
		return e, nil
	case KindRecords:
		e := Entry{Path: p, Type: TypeFile, Size: v.size(), ModTime: v.lastTime(), ContentID: v.id}
		e.Stored, e.Records = v.totals()
		return e, nil
	case KindSegment:
		se, ok := v.find(p.First, p.Last)
		if !ok {
			return Entry{}, store.ErrNotFound
		}
		return segmentEntry(p, se), nil
	}
	return Entry{}, store.ErrNotFound
}

func segmentEntry(p Path, se *store.SegmentEntry) Entry {
	return Entry{Path: p, Type: TypeFile, Size: se.DecodedBytes, Stored: se.StoredBytes, Records: se.Records,
		ModTime: se.LastTimestamp, Immutable: true}
}

// linkTarget is the text of latest: the active snapshot's directory.
func linkTarget(active int) string { return snapshotsDir + "/v" + strconv.Itoa(active) }

// snapshotText renders snapshot.yaml or index of p's snapshot.
func (t *Tree) snapshotText(ctx context.Context, p Path) ([]byte, error) {
	if p.Kind == KindIndex {
		return t.cat.indexText(ctx, p.Loc())
	}
	s, err := t.Summary(ctx, p.Loc())
	if err != nil {
		return nil, err
	}
	return marshalYAML(s)
}

// Summary returns the summary of snapshot loc from the current manifest
// and index (what snapshot.yaml shows).
func (t *Tree) Summary(ctx context.Context, loc store.Loc) (*SnapshotSummary, error) {
	m, err := t.cat.manifest(ctx, loc.Topic)
	if err != nil {
		return nil, err
	}
	s, ok := m.Get(loc.Version)
	if !ok {
		return nil, store.ErrNotFound
	}
	ix, err := t.cat.index(ctx, loc)
	if err != nil {
		return nil, err
	}
	return summarize(s, m.Active == s.Version, ix), nil
}

// partitions returns the partitions of snapshot s at loc.
func (t *Tree) partitions(ctx context.Context, loc store.Loc, s *store.Snapshot) ([]int32, error) {
	ix, err := t.cat.index(ctx, loc)
	if err != nil {
		return nil, err
	}
	return partitionIDs(s, ix), nil
}

// Subdirs returns how many subdirectories directory p has (a directory's
// link count is 2 + Subdirs), reading no more than its own Stat does:
// the topic list, a manifest, a snapshot's index head, the restores.
func (t *Tree) Subdirs(ctx context.Context, p Path) (int, error) {
	switch p.Kind {
	case KindRoot:
		return 2, nil // topics, restore
	case KindTopic, KindPartition:
		return 1, nil // snapshots, segments
	case KindTopics:
		ts, err := t.cat.topicList(ctx)
		return len(ts), err
	case KindRestores:
		if t.restorer == nil {
			return 0, nil
		}
		names, err := t.restorer.List(ctx)
		n := 0
		for _, name := range names {
			if ValidRestoreName(name) == nil {
				n++
			}
		}
		return n, err
	case KindSnapshots:
		m, err := t.cat.manifest(ctx, p.Topic)
		if err != nil {
			return 0, err
		}
		return len(m.Snapshots), nil
	case KindSnapshot, KindLatest:
		r, err := t.Resolve(ctx, p)
		if err != nil {
			return 0, err
		}
		m, err := t.cat.manifest(ctx, r.Topic)
		if err != nil {
			return 0, err
		}
		s, ok := m.Get(r.Version)
		if !ok {
			return 0, store.ErrNotFound
		}
		ps, err := t.partitions(ctx, r.Loc(), s)
		if err != nil {
			return 0, err
		}
		g, err := t.hasGroups(ctx, r)
		if g {
			return len(ps) + 1, err
		}
		return len(ps), err
	}
	return 0, nil
}

// partition returns the view of partition p of snapshot s at loc, or
// store.ErrNotFound when the snapshot has no such partition.
func (t *Tree) partition(ctx context.Context, loc store.Loc, p int32, s *store.Snapshot) (*view, error) {
	ps, err := t.partitions(ctx, loc, s)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ps, p) {
		return nil, store.ErrNotFound
	}
	return t.cat.partition(ctx, loc, p)
}

// List returns the entries of directory p, with their attributes, in
// the tree's order (topics and restores sorted by name). A topic whose manifest
// is missing lists empty. The latest link lists as the snapshot it points
// to, its entries named through latest/.
func (t *Tree) List(ctx context.Context, p Path) ([]Entry, error) {
	dir, err := t.Stat(ctx, p)
	if err != nil {
		return nil, err
	}
	if dir.Type != TypeDir && p.Kind != KindLatest { // latest lists as its snapshot
		return nil, ErrNotDir
	}
	child := func(kind Kind) Path { c := p; c.Kind = kind; return c }
	switch p.Kind {
	case KindRoot:
		return []Entry{t.dir(Path{Kind: KindRestores}, time.Time{}), t.dir(Path{Kind: KindTopics}, time.Time{})}, nil
	case KindTopics:
		ts, err := t.cat.topicList(ctx)
		if err != nil {
			return nil, err
		}
		es := make([]Entry, len(ts))
		for i, name := range ts {
			es[i] = t.dir(TopicPath(name), time.Time{})
		}
		return es, nil
	case KindTopic:
		if _, err := t.cat.manifest(ctx, p.Topic); err != nil {
			if store.IsNotFound(err) {
				return nil, nil
			}
			return nil, err
		}
		return t.statAll(ctx, child(KindLatest), child(KindManifest), child(KindSnapshots))
	case KindSnapshots:
		m, err := t.cat.manifest(ctx, p.Topic)
		if err != nil {
			return nil, err
		}
		es := make([]Entry, 0, len(m.Snapshots))
		for _, s := range m.Snapshots {
			es = append(es, t.dir(SnapshotPath(store.Loc{Topic: p.Topic, Version: s.Version}), s.Created))
		}
		return es, nil
	case KindPartition:
		return t.statAll(ctx, child(KindRecords), child(KindSegments))
	case KindRestores:
		return t.listRestores(ctx)
	case KindRestore:
		return t.statAll(ctx, child(KindRestoreStatus))
	}
	r, err := t.Resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	m, err := t.cat.manifest(ctx, r.Topic)
	if err != nil {
		return nil, err
	}
	s, ok := m.Get(r.Version)
	if !ok {
		return nil, store.ErrNotFound
	}
	switch p.Kind {
	case KindSnapshot, KindLatest:
		if p.Kind == KindLatest {
			p = Path{Kind: KindSnapshot, Topic: p.Topic, Latest: true} // children go through latest/
		}
		ps, err := t.partitions(ctx, r.Loc(), s)
		if err != nil {
			return nil, err
		}
		es, err := t.statAll(ctx, child(KindIndex), child(KindSnapshotYAML))
		if err != nil {
			return nil, err
		}
		for _, q := range ps {
			c := p
			c.Kind, c.Partition = KindPartition, q
			e, err := t.Stat(ctx, c)
			if err != nil {
				return nil, err
			}
			es = append(es, e)
		}
		if g, err := t.hasGroups(ctx, r); err != nil {
			return nil, err
		} else if g {
			c := p
			c.Kind = KindGroups
			e, err := t.Stat(ctx, c)
			if err != nil {
				return nil, err
			}
			es = append(es, e)
		}
		return es, nil
	case KindGroups:
		return t.listGroups(ctx, p, r)
	case KindSegments:
		v, err := t.partition(ctx, r.Loc(), r.Partition, s)
		if err != nil {
			return nil, err
		}
		es := make([]Entry, len(v.entries))
		for i := range v.entries {
			se := &v.entries[i]
			c := p
			c.Kind, c.First, c.Last = KindSegment, se.FirstOffset, se.LastOffset
			es[i] = segmentEntry(c, se)
		}
		return es, nil
	}
	return nil, ErrNotDir
}

// statAll returns the entries of paths, which must exist.
func (t *Tree) statAll(ctx context.Context, paths ...Path) ([]Entry, error) {
	es := make([]Entry, len(paths))
	for i, p := range paths {
		e, err := t.Stat(ctx, p)
		if err != nil {
			return nil, err
		}
		es[i] = e
	}
	return es, nil
}

// File is an open file of the tree. It reads the content the file had
// when it was opened (records.jsonl keeps the index it was opened with),
// whatever happens in storage afterwards. It is safe for concurrent use.
type File struct {
	Entry
	r      io.ReaderAt
	reopen func() io.ReaderAt
}

// ReadAt reads decoded bytes at off; it returns io.EOF at the end.
func (f *File) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }

// Reopen returns another reader of the same content, with its own
// position and cache.
func (f *File) Reopen() io.ReaderAt { return f.reopen() }

// Clone returns another File of the same content and entry, with its own
// reader.
func (f *File) Clone() *File { return &File{Entry: f.Entry, r: f.reopen(), reopen: f.reopen} }

// Close hands the buffers of f's reader back to the tree, for the next file
// opened. A File need not be closed, and reads after Close still work
// (they allocate again).
func (f *File) Close() error {
	if c, ok := f.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// BytesFile is a File holding b, for files an adapter generates itself.
func BytesFile(b []byte) *File {
	return &File{Entry: Entry{Type: TypeFile, Size: int64(len(b))}, r: bytes.NewReader(b), reopen: func() io.ReaderAt { return bytes.NewReader(b) }}
}

// Open opens the file at p for reading. Directories and links fail with
// ErrNotFile.
func (t *Tree) Open(ctx context.Context, p Path) (*File, error) {
	e, err := t.Stat(ctx, p)
	if err != nil {
		return nil, err
	}
	if e.Type != TypeFile {
		return nil, ErrNotFile
	}
	r, err := t.Resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	var v *view
	switch r.Kind {
	case KindRecords:
		m, err := t.cat.manifest(ctx, r.Topic)
		if err != nil {
			return nil, err
		}
		s, ok := m.Get(r.Version)
		if !ok {
			return nil, store.ErrNotFound
		}
		if v, err = t.partition(ctx, r.Loc(), r.Partition, s); err != nil {
			return nil, err
		}
		e.Size = v.size() // the view read, which may have grown since Stat
		e.ContentID = v.id
		e.ModTime = v.lastTime()
		e.Stored, e.Records = v.totals()
	case KindSegment:
		pv, err := t.cat.partition(ctx, r.Loc(), r.Partition)
		if err != nil {
			return nil, err
		}
		se, ok := pv.find(r.First, r.Last)
		if !ok {
			return nil, store.ErrNotFound
		}
		v = newView(r.Loc(), []store.SegmentEntry{*se})
	default:
		b, err := t.content(ctx, r)
		if err != nil {
			return nil, err
		}
		e.Size = int64(len(b))
		return &File{Entry: e, r: bytes.NewReader(b), reopen: func() io.ReaderAt { return bytes.NewReader(b) }}, nil
	}
	mk := func() io.ReaderAt {
		return newRecordReader(t.ctx, t.st, v, t.cat.now, t.log, &t.stats, &t.raws, &t.lines)
	}
	return &File{Entry: e, r: mk(), reopen: mk}, nil
}

// content renders a generated file.
func (t *Tree) content(ctx context.Context, p Path) ([]byte, error) {
	switch p.Kind {
	case KindManifest:
		return t.cat.rawManifest(ctx, p.Topic)
	case KindSnapshotYAML, KindIndex:
		return t.snapshotText(ctx, p)
	case KindRestore:
		return []byte(ReadOnlyREADME), nil
	case KindRestoreStatus:
		return t.restoreStatus(ctx, p.Name)
	case KindGroup:
		return t.groupContent(ctx, p)
	}
	return nil, ErrNotFile
}

// ReadAll returns the whole content of the file at p.
func (t *Tree) ReadAll(ctx context.Context, p Path) ([]byte, error) {
	f, err := t.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	b := make([]byte, f.Size)
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return b[:n], nil
}

// lastTime is the last record time of the view, or zero.
func (v *view) lastTime() time.Time {
	if len(v.entries) == 0 {
		return time.Time{}
	}
	return v.entries[len(v.entries)-1].LastTimestamp
}

// totals returns the stored bytes and records of the view.
func (v *view) totals() (stored, records int64) { return v.stored, v.records }

// find returns the segment of the view with these offsets.
func (v *view) find(first, last int64) (*store.SegmentEntry, bool) {
	es := v.entries
	i := sort.Search(len(es), func(i int) bool { return es[i].FirstOffset >= first })
	if i == len(es) || es[i].FirstOffset != first || es[i].LastOffset != last {
		return nil, false
	}
	return &es[i], true
}
