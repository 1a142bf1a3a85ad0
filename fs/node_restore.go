package fs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/store"
)

// restoreNode is restore/. With a Restorer it lists the restores, each as a
// directory holding status, and rmdir cancels one; without one it holds a
// README explaining why it is read-only.
type restoreNode struct {
	gofs.Inode
	readOnly
	m *mountFS
}

var (
	_ gofs.NodeLookuper  = (*restoreNode)(nil)
	_ gofs.NodeReaddirer = (*restoreNode)(nil)
	_ gofs.NodeGetattrer = (*restoreNode)(nil)
	_ gofs.NodeRmdirer   = (*restoreNode)(nil)
	_ gofs.NodeMkdirer   = (*restoreNode)(nil)
	_ gofs.NodeCreater   = (*restoreNode)(nil)
	_ gofs.NodeUnlinker  = (*restoreNode)(nil)
	_ gofs.NodeRenamer   = (*restoreNode)(nil)
	_ gofs.NodeSymlinker = (*restoreNode)(nil)
	_ gofs.NodeAccesser  = (*restoreNode)(nil)
)

func newRestoreNode(m *mountFS) *restoreNode { return &restoreNode{m: m} }

func (n *restoreNode) attr(ctx context.Context, a *fuse.Attr) syscall.Errno {
	es, errno := n.entries(ctx)
	if errno != 0 {
		return errno
	}
	subdirs := 0
	for _, e := range es {
		if e.Mode == fuse.S_IFDIR {
			subdirs++
		}
	}
	dirAttr(a, n.m.tree.Started(), subdirs)
	if n.m.restorer != nil {
		a.Uid, a.Gid, a.Mode = n.m.access.dirOwner()
	}
	return 0
}

// Access answers access(2): everyone may read restore/; writing is for
// those who may restore (access.go).
func (n *restoreNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	return accessMask(mask, n.m.restorer != nil && n.m.access.mayRestore(ctx))
}

// act checks that the caller may restore and that name may name a
// restore, for an operation op that creates or removes name.
func (n *restoreNode) act(ctx context.Context, op, name string) syscall.Errno {
	if n.m.restorer == nil {
		return syscall.EROFS
	}
	if errno := n.m.check(ctx, n.m.access.mayRestore(ctx), op, name); errno != 0 {
		return errno
	}
	if err := browse.ValidRestoreName(name); err != nil {
		n.m.log.Warn("restore/: name refused", "op", op, "name", name, "why", err)
		return syscall.EINVAL
	}
	return 0
}

// Getattr describes restore/.
func (n *restoreNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// Lookup returns README (read-only mount), a copy in progress or a
// restore's directory.
func (n *restoreNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	p, err := browse.Parse("restore/" + name)
	if err != nil {
		return nil, syscall.ENOENT
	}
	if n.m.restorer == nil {
		return n.treeLookup(ctx, p, out)
	}
	if s := n.m.copies.get(name); s != nil {
		if s.dir {
			return child(ctx, &n.Inode, name, fuse.S_IFDIR, func() attrNode { return newCopyDir(s, "") }, out)
		}
		return child(ctx, &n.Inode, name, fuse.S_IFREG, func() attrNode { return newCopyFile(s, "") }, out)
	}
	return n.treeLookup(ctx, p, out)
}

// treeLookup returns the model's entry p: README, or a restore's
// directory.
func (n *restoreNode) treeLookup(ctx context.Context, p browse.Path, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	e, err := n.m.tree.Stat(ctx, p)
	if err != nil {
		return nil, n.m.errno("stat "+p.String(), err)
	}
	if e.Type == browse.TypeDir {
		if errno := n.m.entryAttr(ctx, &out.Attr, e); errno != 0 {
			return nil, errno
		}
		if ch := n.GetChild(p.Name); ch != nil {
			if r, ok := ch.Operations().(*restoreRunNode); ok && r.p == p {
				return ch, 0
			}
		}
		return n.NewInode(ctx, &restoreRunNode{treeNode{m: n.m, p: p}}, gofs.StableAttr{Mode: fuse.S_IFDIR}), 0
	}
	return n.m.treeChild(ctx, &n.Inode, p.Name, e, out)
}

// Readdir lists README, or the restores and the copies in progress.
func (n *restoreNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	es, errno := n.entries(ctx)
	if errno != 0 {
		return nil, errno
	}
	return dirStream(es)
}

// entries are restore/'s entries: README, or the restores and the copies
// in progress, by name.
func (n *restoreNode) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	restores, err := n.m.tree.List(ctx, browse.Path{Kind: browse.KindRestores})
	if err != nil {
		return nil, n.m.errno("list restores", err)
	}
	if n.m.restorer == nil {
		return []fuse.DirEntry{{Name: browse.ReadmeName, Mode: fuse.S_IFREG}}, 0
	}
	seen := map[string]bool{}
	var es []fuse.DirEntry
	for _, s := range n.m.copies.list() {
		mode := uint32(fuse.S_IFDIR)
		if !s.dir {
			mode = fuse.S_IFREG
		}
		es = append(es, fuse.DirEntry{Name: s.entry, Mode: mode})
		seen[s.entry] = true
	}
	for _, r := range restores {
		if !seen[r.Name()] {
			es = append(es, fuse.DirEntry{Name: r.Name(), Mode: fuse.S_IFDIR})
		}
	}
	slices.SortFunc(es, func(a, b fuse.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	return es, 0
}

// exists reports whether name is taken under restore/.
func (n *restoreNode) exists(ctx context.Context, name string) bool {
	if n.m.copies.get(name) != nil {
		return true
	}
	_, err := n.m.restorer.Status(ctx, name)
	return err == nil
}

// Mkdir starts a copy into restore/ (cp -r makes the directory first).
func (n *restoreNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.act(ctx, "mkdir", name); errno != 0 {
		return nil, errno
	}
	if n.exists(ctx, name) {
		return nil, syscall.EEXIST
	}
	s := newCopySession(ctx, n.m, name, true)
	if !n.m.copies.add(s) {
		return nil, syscall.EEXIST
	}
	d := newCopyDir(s, "")
	d.mode = mode & 0o7777
	d.attr(ctx, &out.Attr)
	return n.NewInode(ctx, d, gofs.StableAttr{Mode: fuse.S_IFDIR}), 0
}

// Create starts a copy of one file: a restore spec.
func (n *restoreNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if errno := n.act(ctx, "create", name); errno != 0 {
		return nil, nil, 0, errno
	}
	if n.exists(ctx, name) {
		return nil, nil, 0, syscall.EEXIST
	}
	s := newCopySession(ctx, n.m, name, false)
	if !n.m.copies.add(s) {
		return nil, nil, 0, syscall.EEXIST
	}
	f := newCopyFile(s, "")
	f.mode = mode & 0o7777
	f.attr(ctx, &out.Attr)
	return n.NewInode(ctx, f, gofs.StableAttr{Mode: fuse.S_IFREG}), &copyHandle{n: f}, fuse.FOPEN_DIRECT_IO, 0
}

// Rmdir cancels or clears a restore (and forgets its copy); without a
// Restorer it is EROFS.
func (n *restoreNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if n.m.restorer == nil {
		return syscall.EROFS
	}
	if errno := n.m.check(ctx, n.m.access.mayRestore(ctx), "rmdir", name); errno != 0 {
		return errno
	}
	s := n.m.copies.get(name)
	err := n.m.restorer.Cancel(ctx, name)
	if s != nil {
		n.m.copies.remove(s)
		if store.IsNotFound(err) {
			err = nil
		}
	}
	if err != nil {
		return n.m.errno("cancel restore "+name, err)
	}
	return 0
}

// Unlink removes a spec file that started nothing (or is done).
func (n *restoreNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if n.m.restorer == nil {
		return syscall.EROFS
	}
	if errno := n.m.check(ctx, n.m.access.mayRestore(ctx), "unlink", name); errno != 0 {
		return errno
	}
	s := n.m.copies.get(name)
	if s == nil || s.dir {
		return syscall.ENOENT
	}
	n.m.copies.remove(s)
	return 0
}

// Rename renames a spec file (rsync writes a temporary name first).
func (n *restoreNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, _ uint32) syscall.Errno {
	if errno := n.act(ctx, "rename", newName); errno != 0 {
		return errno
	}
	s := n.m.copies.get(name)
	if s == nil || s.dir || newParent.EmbeddedInode() != &n.Inode {
		return syscall.EPERM
	}
	if errno := n.m.check(ctx, n.m.access.mayTouch(ctx, s), "rename", name); errno != 0 {
		return errno
	}
	if !n.m.copies.rename(s, newName) {
		return syscall.EEXIST
	}
	return 0
}

// Setattr accepts touch of restore/ by those who may restore and changes
// nothing; chmod and chown are refused, since restore/ shows who may act.
func (n *restoreNode) Setattr(ctx context.Context, _ gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if n.m.restorer == nil {
		return syscall.EROFS
	}
	if errno := n.m.check(ctx, n.m.access.mayRestore(ctx), "setattr", "restore/"); errno != 0 {
		return errno
	}
	if _, ok := in.GetMode(); ok {
		return syscall.EPERM
	}
	if _, ok := in.GetUID(); ok {
		return syscall.EPERM
	}
	if _, ok := in.GetGID(); ok {
		return syscall.EPERM
	}
	return n.attr(ctx, &out.Attr)
}

// Symlink is cp -r of a symlink into restore/: cp -r MNT/topics/T/latest
// MNT/restore/X copies latest itself. When the same process just read
// that text from T's latest, the snapshot it points to is restored into X
// (into T when X is "latest"); otherwise the copy is Invalid and its
// status says to copy latest/ or snapshots/vN instead.
func (n *restoreNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.act(ctx, "symlink", name); errno != 0 {
		return nil, errno
	}
	if n.exists(ctx, name) {
		return nil, syscall.EEXIST
	}
	s := newCopySession(ctx, n.m, name, true)
	if !n.m.copies.add(s) {
		return nil, syscall.EEXIST
	}
	s.mu.Lock()
	s.state = browse.CopyStarting
	s.mu.Unlock()
	errno := s.start(n.linkRequest(ctx, s, target))
	n.m.copies.remove(s) // the restore shows as its status directory
	if errno != 0 {
		return nil, errno
	}
	out.Attr.Mode = 0o777
	out.Attr.Size = uint64(len(target))
	// The next lookup must find the restore's directory: go-fuse replaces
	// a zero timeout with the mount's default, so expire at once.
	out.SetEntryTimeout(time.Nanosecond)
	out.SetAttrTimeout(time.Nanosecond)
	return n.NewInode(ctx, &gofs.MemSymlink{Data: []byte(target)}, gofs.StableAttr{Mode: fuse.S_IFLNK}), 0
}

// linkRequest is the restore a symlink copied into restore/ asks for.
func (n *restoreNode) linkRequest(ctx context.Context, s *copySession, target string) RestoreRequest {
	req := RestoreRequest{Name: s.name}
	var loc store.Loc
	ok := false
	if c, isCall := caller(ctx); isCall {
		loc, ok = n.m.links.find(c.Pid, target)
	}
	if !ok {
		req.Invalid = fmt.Sprintf("restore/%s is a copy of a symbolic link to %s, which does not say which topic: copy the directory it points to, "+
			"with a trailing slash (cp -r MOUNTPOINT/topics/T/latest/ MOUNTPOINT/restore/%s) or by its name (cp -r MOUNTPOINT/topics/T/snapshots/vN MOUNTPOINT/restore/%s)",
			s.entry, target, s.entry, s.entry)
		return req
	}
	req.Source, req.Target = loc, s.name
	if s.name == browse.LatestName {
		req.Target = loc.Topic
	}
	return req
}

// restoreRunNode is restore/<name>/: the model's directory of a restore,
// holding its status file, and rm -r of it is accepted.
type restoreRunNode struct{ treeNode }

// Unlink of status is accepted (rm -r restore/X removes it first) and
// changes nothing.
func (n *restoreRunNode) Unlink(_ context.Context, name string) syscall.Errno {
	if name != "status" {
		return syscall.ENOENT
	}
	return 0
}
