package fs

import (
	"context"
	"path"
	"slices"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/fs/browse"
)

// copyMeta is the mode and mtime of a copied entry: chmod and touch
// (cp -p, cp -a) are accepted and remembered.
type copyMeta struct {
	mu    sync.Mutex
	mode  uint32
	mtime time.Time
}

func (c *copyMeta) setattr(in *fuse.SetAttrIn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := in.GetMode(); ok {
		c.mode = m & 0o7777
	}
	if t, ok := in.GetMTime(); ok {
		c.mtime = t
	}
}

// acceptXattr answers setxattr and removexattr on copies: cp -a sets
// them, and they are accepted (from the session's owner) and dropped.
// getxattr and listxattr never reach a node (noXattrRead).
type acceptXattr struct{ s *copySession }

// Setxattr accepts and drops the attribute.
func (x acceptXattr) Setxattr(ctx context.Context, name string, _ []byte, _ uint32) syscall.Errno {
	return x.s.touch(ctx, "setxattr", name)
}

// Removexattr accepts.
func (x acceptXattr) Removexattr(ctx context.Context, name string) syscall.Errno {
	return x.s.touch(ctx, "removexattr", name)
}

// touch checks that the caller may change the copy (its creator or root).
func (s *copySession) touch(ctx context.Context, op, name string) syscall.Errno {
	return s.m.check(ctx, s.m.access.mayTouch(ctx, s), op, s.entry+"/"+name)
}

// owned fills the owner of a copy's entry: the user who made the copy.
func (s *copySession) owned(a *fuse.Attr) {
	a.Uid, a.Gid = s.uid, s.gid
}

// copyDirNode is a directory of a copy into restore/: restore/<name> (rel
// "") with its status file, or a directory below it.
type copyDirNode struct {
	gofs.Inode
	acceptXattr
	copyMeta
	s   *copySession
	rel string
}

var (
	_ gofs.NodeLookuper   = (*copyDirNode)(nil)
	_ gofs.NodeReaddirer  = (*copyDirNode)(nil)
	_ gofs.NodeGetattrer  = (*copyDirNode)(nil)
	_ gofs.NodeSetattrer  = (*copyDirNode)(nil)
	_ gofs.NodeMkdirer    = (*copyDirNode)(nil)
	_ gofs.NodeCreater    = (*copyDirNode)(nil)
	_ gofs.NodeUnlinker   = (*copyDirNode)(nil)
	_ gofs.NodeRmdirer    = (*copyDirNode)(nil)
	_ gofs.NodeRenamer    = (*copyDirNode)(nil)
	_ gofs.NodeSymlinker  = (*copyDirNode)(nil)
	_ gofs.NodeSetxattrer = (*copyDirNode)(nil)
	_ gofs.NodeAccesser   = (*copyDirNode)(nil)
)

func newCopyDir(s *copySession, rel string) *copyDirNode {
	d := &copyDirNode{s: s, rel: rel, acceptXattr: acceptXattr{s}}
	d.mode, d.mtime = 0o755, time.Now()
	return d
}

func (n *copyDirNode) attr(_ context.Context, a *fuse.Attr) syscall.Errno {
	n.copyMeta.mu.Lock()
	defer n.copyMeta.mu.Unlock()
	a.Mode = n.mode&0o755 | 0o700
	n.s.owned(a)
	setTime(a, n.mtime)
	return 0
}

// Access answers access(2): only the copy's creator and root may write.
func (n *copyDirNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	return accessMask(mask, n.s.m.access.mayTouch(ctx, n.s))
}

// Getattr describes the directory.
func (n *copyDirNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return n.attr(ctx, &out.Attr)
}

// Setattr accepts chmod and touch.
func (n *copyDirNode) Setattr(ctx context.Context, _ gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := n.s.touch(ctx, "setattr", n.rel); errno != 0 {
		return errno
	}
	n.setattr(in)
	return n.attr(ctx, &out.Attr)
}

func (n *copyDirNode) statusNode() attrNode {
	return newTextNode(n.s.m, "restore/"+n.s.name+"/status", n.s.statusText)
}

// Lookup returns status (in restore/<name>) or what the copy created.
func (n *copyDirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if n.rel == "" && name == "status" {
		return child(ctx, &n.Inode, name, fuse.S_IFREG, n.statusNode, out)
	}
	ch := n.GetChild(name)
	if ch == nil {
		return nil, syscall.ENOENT
	}
	if a, ok := ch.Operations().(attrNode); ok {
		a.attr(ctx, &out.Attr)
	}
	return ch, 0
}

// Readdir lists status and what the copy created.
func (n *copyDirNode) Readdir(context.Context) (gofs.DirStream, syscall.Errno) {
	var es []fuse.DirEntry
	if n.rel == "" {
		es = append(es, fuse.DirEntry{Name: "status", Mode: fuse.S_IFREG})
	}
	for name, ch := range n.Children() {
		if n.rel == "" && name == "status" {
			continue
		}
		es = append(es, fuse.DirEntry{Name: name, Mode: ch.StableAttr().Mode})
	}
	return dirStream(es)
}

func (n *copyDirNode) made(ctx context.Context, name string, dir bool) string {
	if n.rel == "" {
		n.s.childMade(ctx, name, dir)
	}
	return path.Join(n.rel, name)
}

// Mkdir accepts a directory of the copy.
func (n *copyDirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.s.touch(ctx, "mkdir", path.Join(n.rel, name)); errno != 0 {
		return nil, errno
	}
	if n.GetChild(name) != nil || (n.rel == "" && name == "status") {
		return nil, syscall.EEXIST
	}
	if n.rel == "" {
		if errno := n.s.refuseLate(ctx, name); errno != 0 {
			return nil, errno
		}
	}
	d := newCopyDir(n.s, n.made(ctx, name, true))
	d.mode = mode & 0o7777
	d.attr(ctx, &out.Attr)
	return n.NewInode(ctx, d, gofs.StableAttr{Mode: fuse.S_IFDIR}), 0
}

// Create accepts a file of the copy; its bytes are not kept.
func (n *copyDirNode) Create(ctx context.Context, name string, _, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if errno := n.s.touch(ctx, "create", path.Join(n.rel, name)); errno != 0 {
		return nil, nil, 0, errno
	}
	if n.rel == "" && name == "status" {
		return nil, nil, 0, syscall.EEXIST
	}
	if n.rel == "" {
		if errno := n.s.refuseLate(ctx, name); errno != 0 {
			return nil, nil, 0, errno
		}
	}
	f := newCopyFile(n.s, n.made(ctx, name, false))
	f.mode = mode & 0o7777
	f.attr(ctx, &out.Attr)
	return n.NewInode(ctx, f, gofs.StableAttr{Mode: fuse.S_IFREG}), &copyHandle{n: f}, fuse.FOPEN_DIRECT_IO, 0
}

// Symlink accepts a symlink of the copy (cp -r of a topic copies latest).
func (n *copyDirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.s.touch(ctx, "symlink", path.Join(n.rel, name)); errno != 0 {
		return nil, errno
	}
	n.made(ctx, name, false)
	out.Attr.Mode = 0o777
	return n.NewInode(ctx, &gofs.MemSymlink{Data: []byte(target)}, gofs.StableAttr{Mode: fuse.S_IFLNK}), 0
}

// Unlink removes a copied file (rm -r); status is accepted too.
func (n *copyDirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.s.touch(ctx, "unlink", path.Join(n.rel, name))
}

// Rmdir removes a copied directory (rm -r).
func (n *copyDirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.s.touch(ctx, "rmdir", path.Join(n.rel, name))
}

// Rename moves a copied file within the copy (rsync renames its
// temporary files).
func (n *copyDirNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, _ uint32) syscall.Errno {
	if errno := n.s.touch(ctx, "rename", path.Join(n.rel, name)); errno != 0 {
		return errno
	}
	np, ok := newParent.(*copyDirNode)
	if !ok || np.s != n.s {
		return syscall.EXDEV
	}
	if f, ok := n.GetChild(name).Operations().(*copyFileNode); ok {
		f.setRel(path.Join(np.rel, newName))
	}
	return 0
}

// copyFileNode is a file of a copy into restore/. It keeps no content:
// only its size, mode and mtime, so that cp sees what it wrote.
type copyFileNode struct {
	gofs.Inode
	acceptXattr
	copyMeta
	s *copySession

	sizeMu sync.Mutex
	rel    string // path below restore/<entry>; "" for a file directly in restore/
	size   int64
}

var (
	_ gofs.NodeOpener     = (*copyFileNode)(nil)
	_ gofs.NodeGetattrer  = (*copyFileNode)(nil)
	_ gofs.NodeSetattrer  = (*copyFileNode)(nil)
	_ gofs.NodeSetxattrer = (*copyFileNode)(nil)
	_ gofs.NodeAccesser   = (*copyFileNode)(nil)
)

func newCopyFile(s *copySession, rel string) *copyFileNode {
	f := &copyFileNode{s: s, rel: rel, acceptXattr: acceptXattr{s}}
	f.mode, f.mtime = 0o644, time.Now()
	return f
}

func (n *copyFileNode) setRel(rel string) {
	n.sizeMu.Lock()
	n.rel = rel
	n.sizeMu.Unlock()
}

func (n *copyFileNode) grow(end int64) {
	n.sizeMu.Lock()
	n.size = max(n.size, end)
	n.sizeMu.Unlock()
}

func (n *copyFileNode) attr(_ context.Context, a *fuse.Attr) syscall.Errno {
	n.sizeMu.Lock()
	a.Size = uint64(n.size)
	n.sizeMu.Unlock()
	n.copyMeta.mu.Lock()
	defer n.copyMeta.mu.Unlock()
	a.Mode = n.mode&0o755 | 0o600
	n.s.owned(a)
	setTime(a, n.mtime)
	return 0
}

// Access answers access(2): only the copy's creator and root may write.
func (n *copyFileNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	return accessMask(mask, n.s.m.access.mayTouch(ctx, n.s))
}

// Getattr reports the size written or copied.
func (n *copyFileNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return n.attr(ctx, &out.Attr)
}

// Setattr accepts truncate, chmod and touch.
func (n *copyFileNode) Setattr(ctx context.Context, _ gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := n.s.touch(ctx, "setattr", n.rel); errno != 0 {
		return errno
	}
	if sz, ok := in.GetSize(); ok {
		n.sizeMu.Lock()
		n.size = int64(sz)
		n.sizeMu.Unlock()
	}
	n.setattr(in)
	return n.attr(ctx, &out.Attr)
}

// Open reopens the file for another write (rsync, a second cp).
func (n *copyFileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&writeFlags != 0 {
		if errno := n.s.touch(ctx, "open", n.rel); errno != 0 {
			return nil, 0, errno
		}
	}
	if flags&syscall.O_TRUNC != 0 {
		n.sizeMu.Lock()
		n.size = 0
		n.sizeMu.Unlock()
	}
	return &copyHandle{n: n}, fuse.FOPEN_DIRECT_IO, 0
}

// maxSpec bounds the bytes kept of a file written directly into restore/
// (a restore spec).
const maxSpec = 1 << 20

// specBuf keeps the bytes written to a file directly in restore/, a
// spec, at their offsets (holes read as zeros), up to maxSpec; a write
// beyond drops them all and marks the file too big to be a spec.
type specBuf struct {
	b      []byte
	tooBig bool
}

func (s *specBuf) write(data []byte, off int64) {
	if s.tooBig {
		return
	}
	end := off + int64(len(data))
	if off < 0 || end < off || end > maxSpec {
		s.b, s.tooBig = nil, true
		return
	}
	if int64(len(s.b)) < end {
		s.b = append(s.b, make([]byte, end-int64(len(s.b)))...)
	}
	copy(s.b[off:], data)
}

// copyHandle is an open file of a copy. It learns the copy's source from
// copy_file_range, or checksums what is written to recognise it at Flush.
type copyHandle struct {
	n *copyFileNode

	mu      sync.Mutex
	src     source
	sum     seqSum
	written bool
	spec    specBuf // content of a file in restore/ itself
	// matched remembers the last readLog match of this handle: each
	// close of a descriptor flushes, and unchanged content is matched
	// once.
	matched *matchMemo
}

type matchMemo struct {
	size int64
	crc  uint32
	src  source
}

var (
	_ gofs.FileWriter   = (*copyHandle)(nil)
	_ gofs.FileReader   = (*copyHandle)(nil)
	_ gofs.FileFlusher  = (*copyHandle)(nil)
	_ gofs.FileFsyncer  = (*copyHandle)(nil)
	_ gofs.FileReleaser = (*copyHandle)(nil)
)

// copied records a copy_file_range from src.
func (h *copyHandle) copied(src source, off, n int64) {
	h.mu.Lock()
	h.src = src
	h.mu.Unlock()
	h.n.grow(off + n)
}

// Write accepts bytes of a read-and-write copy without keeping them
// (except a spec's).
func (h *copyHandle) Write(_ context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.mu.Lock()
	h.written = true
	h.sum.add(data, off)
	if h.n.rel == "" {
		h.spec.write(data, off)
	}
	h.mu.Unlock()
	h.n.grow(off + int64(len(data)))
	return uint32(len(data)), 0
}

// Read returns nothing: a copy's bytes are not kept.
func (h *copyHandle) Read(context.Context, []byte, int64) (fuse.ReadResult, syscall.Errno) {
	return fuse.ReadResultData(nil), 0
}

// Flush identifies the copied file and, for the first one, starts the
// restore; an error that makes the restore impossible is returned here so
// that cp reports it.
func (h *copyHandle) Flush(ctx context.Context) syscall.Errno {
	h.mu.Lock()
	src, sum, written, spec, tooBig := h.src, h.sum, h.written, slices.Clone(h.spec.b), h.spec.tooBig
	h.mu.Unlock()
	h.n.sizeMu.Lock()
	rel, size := h.n.rel, h.n.size
	h.n.sizeMu.Unlock()
	s := h.n.s
	if src.path == "" && written && !sum.bad && sum.next == size && size > 0 {
		base := path.Base(rel)
		if rel == "" {
			base = s.entry
		}
		base = browse.StripRsyncTemp(base)
		h.mu.Lock()
		memo := h.matched
		h.mu.Unlock()
		if memo != nil && memo.size == size && memo.crc == sum.crc {
			src = memo.src
		} else {
			src, _ = s.m.reads.match(ctx, base, size, sum.crc)
			h.mu.Lock()
			h.matched = &matchMemo{size: size, crc: sum.crc, src: src}
			h.mu.Unlock()
		}
	}
	if src.path == "" && (!written || rel != "" || tooBig) {
		return 0
	}
	return s.fileDone(rel, src, spec)
}

// Fsync has nothing to write.
func (h *copyHandle) Fsync(context.Context, uint32) syscall.Errno { return 0 }

// Release forgets a spec file once its restore started: restore/ then
// shows the restore's directory instead.
func (h *copyHandle) Release(context.Context) syscall.Errno {
	s := h.n.s
	if h.n.rel == "" && !s.dir {
		s.mu.Lock()
		decided := s.state != browse.CopyWaiting
		s.mu.Unlock()
		if decided {
			s.m.copies.remove(s)
		}
	}
	return 0
}
