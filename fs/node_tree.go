package fs

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/fs/browse"
)

// treeNode is any node of the read-only tree (topics/ and below, the
// restores' directories and status files, restore/README): a path of the
// browse model, whose Stat, List and Open answer the kernel. Its only state
// is, for a segments/ directory, which listing the kernel may keep cached.
type treeNode struct {
	gofs.Inode
	readOnly
	m *mountFS
	p browse.Path

	mu     sync.Mutex
	listed uint64 // segments/: the ContentID of the last listing opened
}

var (
	_ gofs.NodeLookuper       = (*treeNode)(nil)
	_ gofs.NodeOpendirHandler = (*treeNode)(nil)
	_ gofs.NodeGetattrer      = (*treeNode)(nil)
	_ gofs.NodeOpener         = (*treeNode)(nil)
	_ gofs.NodeReadlinker     = (*treeNode)(nil)
	_ gofs.NodeCopyFileRanger = (*treeNode)(nil)
)

// stat returns the node's entry, logging errors other than not-found.
func (n *treeNode) stat(ctx context.Context) (browse.Entry, syscall.Errno) {
	e, err := n.m.tree.Stat(ctx, n.p)
	if err != nil {
		return e, n.m.errno("stat "+n.p.String(), err)
	}
	return e, 0
}

func (n *treeNode) attr(ctx context.Context, a *fuse.Attr) syscall.Errno {
	e, errno := n.stat(ctx)
	if errno == 0 {
		errno = n.m.entryAttr(ctx, a, e)
	}
	return errno
}

// entryAttr fills a from a model entry. A directory's link count is 2 +
// its subdirectories. records.jsonl's blocks are the stored bytes of its
// segments; a segment file's are 0, as records.jsonl counts its bytes:
// du over the mount tells what storage holds, each stored byte once.
func (m *mountFS) entryAttr(ctx context.Context, a *fuse.Attr, e browse.Entry) syscall.Errno {
	switch e.Type {
	case browse.TypeDir:
		n, err := m.tree.Subdirs(ctx, e.Path)
		if err != nil {
			return m.errno("stat "+e.Path.String(), err)
		}
		dirAttr(a, e.ModTime, n)
	case browse.TypeLink:
		a.Mode = 0o777
		a.Size = uint64(e.Size)
		a.Nlink = 1
		setTime(a, e.ModTime)
		setBlocks(a, 0)
	default:
		// st_blocks follow the decoded size: a file whose blocks fall short
		// of its size looks sparse to cp, which then reads it instead of
		// asking for copy_file_range, and restore by copy would read the
		// whole snapshot through the mount (integration TestMount).
		fileAttr(a, e.Size, e.ModTime)
	}
	return 0
}

// entryMode is the file type bits of a model entry.
func entryMode(e browse.Entry) uint32 {
	switch e.Type {
	case browse.TypeDir:
		return fuse.S_IFDIR
	case browse.TypeLink:
		return fuse.S_IFLNK
	}
	return fuse.S_IFREG
}

// Getattr reports the entry's current attributes: records.jsonl's size
// is the current index's (go-fuse may pass any open handle, so the
// handle is ignored). Segment files never change and are cached long.
func (n *treeNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	e, errno := n.stat(ctx)
	if errno != 0 {
		return errno
	}
	if errno := n.m.entryAttr(ctx, &out.Attr, e); errno != 0 {
		return errno
	}
	if e.Immutable {
		out.SetTimeout(immutableTimeout)
	}
	return 0
}

// Lookup finds name by the tree's grammar and stats it. Lookups in
// topics/ read no manifest, so that READDIRPLUS of topics/ stays one
// listing.
func (n *treeNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	p, err := n.p.Child(name)
	if err != nil {
		return nil, syscall.ENOENT
	}
	e, err := n.m.tree.Stat(ctx, p)
	if err != nil {
		return nil, n.m.errno("stat "+p.String(), err)
	}
	return n.m.treeChild(ctx, &n.Inode, name, e, out)
}

// treeChild returns parent's child name for entry e, reusing the known
// inode if it is the same path and type; out is filled for the kernel.
func (m *mountFS) treeChild(ctx context.Context, parent *gofs.Inode, name string, e browse.Entry, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if e.Path.Kind == browse.KindRecords {
		return m.recordsChild(ctx, parent, name, e, out)
	}
	if errno := m.entryAttr(ctx, &out.Attr, e); errno != 0 {
		return nil, errno
	}
	if e.Immutable {
		out.SetEntryTimeout(immutableTimeout)
		out.SetAttrTimeout(immutableTimeout)
	}
	mode := entryMode(e)
	if ch := parent.GetChild(name); ch != nil && ch.StableAttr().Mode == mode {
		if t, ok := ch.Operations().(*treeNode); ok && t.p == e.Path {
			return ch, 0
		}
	}
	return parent.NewInode(ctx, &treeNode{m: m, p: e.Path}, gofs.StableAttr{Mode: mode}), 0
}

// OpendirHandle opens the directory as a treeDir: the model lists it
// once, and READDIRPLUS's lookup of each entry answers from the entry just
// listed instead of parsing the child's path and asking the model again
// (a third of the time `ls -l` of 100,000 segments took).
//
// A segments/ directory whose segments are those of the previous open
// (its ContentID) lets the kernel keep the listing cached
// (FOPEN_CACHE_DIR): a repeated ls of 100,000 segments then asks nothing,
// and the segment files' attributes are cached for an hour already. When
// the segments changed (new ones, retention, compaction), that open
// caches nothing, which drops the kernel's old listing, and the next one
// caches again.
func (n *treeNode) OpendirHandle(ctx context.Context, _ uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	var id uint64
	if n.p.Kind == browse.KindSegments {
		e, errno := n.stat(ctx)
		if errno != 0 {
			return nil, 0, errno
		}
		id = e.ContentID
	}
	es, err := n.m.tree.List(ctx, n.p)
	if err != nil {
		return nil, 0, n.m.errno("list "+n.p.String(), err)
	}
	var flags uint32
	if id != 0 {
		if e, errno := n.stat(ctx); errno != 0 || e.ContentID != id {
			id = 0 // changed while listing: neither this listing nor the last may stay
		}
		n.mu.Lock()
		if id != 0 && n.listed == id {
			flags = fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE
		}
		n.listed = id
		n.mu.Unlock()
	}
	return &treeDir{n: n, es: es}, flags, 0
}

// treeDir is an open directory of the tree: "." and "..", then its
// entries as listed at opendir, like a local directory stream read in one
// go.
type treeDir struct {
	n    *treeNode
	es   []browse.Entry
	next int // position of the next entry (0 and 1 are the dots); its offset is next+1
}

var (
	_ gofs.FileReaddirenter = (*treeDir)(nil)
	_ gofs.FileSeekdirer    = (*treeDir)(nil)
	_ gofs.FileLookuper     = (*treeDir)(nil)
)

// Readdirent returns the next entry, whose offset is its position + 1.
func (d *treeDir) Readdirent(context.Context) (*fuse.DirEntry, syscall.Errno) {
	if d.next == 0 {
		d.n.m.stats.listed.Add(1)
	}
	switch {
	case d.next < 2:
		name := [2]string{".", ".."}[d.next]
		d.next++
		return &fuse.DirEntry{Name: name, Mode: fuse.S_IFDIR, Off: uint64(d.next)}, 0
	case d.next-2 >= len(d.es):
		return nil, 0
	}
	e := d.es[d.next-2]
	d.next++
	return &fuse.DirEntry{Name: e.Name(), Mode: entryMode(e), Off: uint64(d.next)}, 0
}

// Seekdir continues after the entry at offset off (0: from the start).
func (d *treeDir) Seekdir(_ context.Context, off uint64) syscall.Errno {
	d.next = int(min(off, uint64(len(d.es)+2)))
	return 0
}

// Lookup answers READDIRPLUS for name, the entry Readdirent returned last.
func (d *treeDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if i := d.next - 3; i >= 0 && i < len(d.es) && d.es[i].Name() == name {
		return d.n.m.treeChild(ctx, &d.n.Inode, name, d.es[i], out)
	}
	return d.n.Lookup(ctx, name, out)
}

// Readlink returns latest's target, "snapshots/v<active>", and notes who
// read it, so that a copy of the symlink into restore/ can tell the topic
// (linkLog).
func (n *treeNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	e, errno := n.stat(ctx)
	if errno != 0 {
		return nil, errno
	}
	if e.Type != browse.TypeLink {
		return nil, syscall.EINVAL
	}
	if r, err := n.m.tree.Resolve(ctx, n.p); err == nil {
		if c, ok := caller(ctx); ok {
			n.m.links.read(c.Pid, e.Link, r.Loc())
		}
	}
	return []byte(e.Link), 0
}

// Open opens the file with the content it has now. Segment files never
// change: FOPEN_KEEP_CACHE. records.jsonl has its own node (recordsNode),
// which pins one version of it; a treeNode of records.jsonl is never made,
// but would be opened with FOPEN_DIRECT_IO, each read served from the
// handle's own view.
func (n *treeNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&writeFlags != 0 {
		return nil, 0, syscall.EROFS
	}
	f, err := n.m.tree.Open(ctx, n.p)
	if err != nil {
		return nil, 0, n.m.errno("open "+n.p.String(), err)
	}
	src := sourceOf(f)
	if src.path != "" {
		n.m.reads.opened(src)
	}
	var fl uint32
	switch n.p.Kind {
	case browse.KindRecords:
		fl = fuse.FOPEN_DIRECT_IO
	case browse.KindSegment:
		fl = fuse.FOPEN_KEEP_CACHE
	}
	return &fileHandle{m: n.m, f: f, src: src}, fl, 0
}

// CopyFileRange copies a file of a snapshot into restore/ without reading
// it; other files answer EXDEV, so that the caller reads and writes.
func (n *treeNode) CopyFileRange(ctx context.Context, _ gofs.FileHandle, offIn uint64, _ *gofs.Inode, fhOut gofs.FileHandle, offOut uint64, length uint64, _ uint64) (uint32, syscall.Errno) {
	if !isSource(n.p) {
		return 0, syscall.EXDEV
	}
	f, err := n.m.tree.Open(ctx, n.p)
	if err != nil {
		return 0, n.m.errno("open "+n.p.String(), err)
	}
	return n.m.copySource(sourceOf(f), offIn, fhOut, offOut, length)
}

// fileHandle is an open file of the tree: it reads the content the file
// had when opened, whatever happens in storage afterwards.
type fileHandle struct {
	m   *mountFS
	f   *browse.File
	src source

	mu  sync.Mutex
	sum seqSum
}

var (
	_ gofs.FileReader   = (*fileHandle)(nil)
	_ gofs.FileReleaser = (*fileHandle)(nil)
)

// Release closes the file, handing its buffers back for the next open.
func (h *fileHandle) Release(context.Context) syscall.Errno {
	_ = h.f.Close() // never fails
	return 0
}

// Read serves the file's bytes at off.
func (h *fileHandle) Read(_ context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.f.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.m.errno("read "+h.f.Path.String(), err)
	}
	h.m.served(&h.mu, &h.sum, h.src, dest[:n], off)
	return fuse.ReadResultData(dest[:n]), 0
}

// served counts bytes read and checksums them, so that a copy of src made
// by read and write can be recognised (readLog).
func (m *mountFS) served(mu *sync.Mutex, sum *seqSum, src source, b []byte, off int64) {
	m.stats.read.Add(int64(len(b)))
	if src.path == "" {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if sum.bad || sum.next == src.size && len(b) == 0 {
		return
	}
	sum.add(b, off)
	if !sum.bad && sum.next == src.size {
		m.reads.readFully(src, sum.crc)
	}
}
