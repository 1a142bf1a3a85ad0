package fs

import (
	"context"
	"log/slog"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/fs/browse"
)

const (
	// shortTimeout is the kernel's entry and attribute cache time for
	// anything that may change.
	shortTimeout = time.Second
	// immutableTimeout is the cache time for segment files.
	immutableTimeout = time.Hour
)

// mountFS is what every node shares.
type mountFS struct {
	ctx      context.Context // cancelled when the server stops
	tree     *browse.Tree
	log      *slog.Logger
	restorer Restorer
	stats    stats
	reads    readLog
	copies   copies
	access   access
	links    linkLog
}

// attrNode is a node that can describe itself for Lookup and Getattr.
type attrNode interface {
	gofs.InodeEmbedder
	attr(ctx context.Context, a *fuse.Attr) syscall.Errno
}

// child returns parent's child name, reusing the known inode if there is one
// of the same type, else the node mk builds; out is filled for the kernel.
func child(ctx context.Context, parent *gofs.Inode, name string, mode uint32, mk func() attrNode, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	var n attrNode
	ch := parent.GetChild(name)
	if ch != nil && ch.StableAttr().Mode == mode {
		n, _ = ch.Operations().(attrNode)
	}
	if n == nil {
		n, ch = mk(), nil
	}
	if errno := n.attr(ctx, &out.Attr); errno != 0 {
		return nil, errno
	}
	if ch != nil {
		return ch, 0
	}
	return parent.NewInode(ctx, n, gofs.StableAttr{Mode: mode}), 0
}

// getattr implements Getattr for an attrNode.
func getattr(ctx context.Context, n attrNode, out *fuse.AttrOut) syscall.Errno {
	return n.attr(ctx, &out.Attr)
}

// errno logs err (unless it is a plain not-found) and maps it.
func (m *mountFS) errno(what string, err error) syscall.Errno {
	e := toErrno(err)
	if e != syscall.ENOENT && e != syscall.EINTR {
		m.log.Error(what, "err", err)
	}
	return e
}

func setTime(a *fuse.Attr, t time.Time) {
	if t.IsZero() {
		return
	}
	a.SetTimes(nil, &t, &t)
}

func dirAttr(a *fuse.Attr, t time.Time) {
	a.Mode = 0o555
	setTime(a, t)
}

func fileAttr(a *fuse.Attr, size int64, t time.Time) {
	a.Mode = 0o444
	a.Size = uint64(size)
	setTime(a, t)
}

// writeFlags are open flags that would modify a file.
const writeFlags = syscall.O_WRONLY | syscall.O_RDWR | syscall.O_TRUNC | syscall.O_APPEND | syscall.O_CREAT

// dirStream lists entries for Readdir.
func dirStream(entries []fuse.DirEntry) (gofs.DirStream, syscall.Errno) {
	return gofs.NewListDirStream(entries), 0
}
