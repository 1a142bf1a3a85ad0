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
	a.SetTimes(&t, &t, &t) // no access times are kept: atime is mtime
}

// dirAttr describes a directory with subdirs subdirectories.
func dirAttr(a *fuse.Attr, t time.Time, subdirs int) {
	a.Mode = 0o555
	a.Nlink = uint32(2 + subdirs)
	setTime(a, t)
	setBlocks(a, 0)
}

func fileAttr(a *fuse.Attr, size int64, t time.Time) {
	a.Mode = 0o444
	a.Size = uint64(size)
	a.Nlink = 1
	setTime(a, t)
	setBlocks(a, size)
}

// setBlocks sets st_blocks to cover n bytes (in 512-byte units).
func setBlocks(a *fuse.Attr, n int64) {
	a.Blksize = 4096
	a.Blocks = uint64(n+511) / 512
}

// writeFlags are open flags that would modify a file.
const writeFlags = syscall.O_WRONLY | syscall.O_RDWR | syscall.O_TRUNC | syscall.O_APPEND | syscall.O_CREAT

// dirStream lists entries for Readdir.
// It starts with . and .., as ls -a expects.
func dirStream(entries []fuse.DirEntry) (gofs.DirStream, syscall.Errno) {
	all := make([]fuse.DirEntry, 0, len(entries)+2)
	all = append(all, fuse.DirEntry{Name: ".", Mode: fuse.S_IFDIR}, fuse.DirEntry{Name: "..", Mode: fuse.S_IFDIR})
	return gofs.NewListDirStream(append(all, entries...)), 0
}
