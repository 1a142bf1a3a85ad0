package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// readOnlyREADME is restore/README when the mount has no Restorer.
const readOnlyREADME = `This directory is read-only.

Restoring by copy (cp -r MOUNTPOINT/topics/T/snapshots/vN MOUNTPOINT/restore/)
needs a Kafka cluster to restore into: mount again with --brokers.
Until then, use "kbackup restore" or read the records under topics/.
`

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
)

func newRestoreNode(m *mountFS) *restoreNode { return &restoreNode{m: m} }

func (n *restoreNode) attr(_ context.Context, a *fuse.Attr) syscall.Errno {
	dirAttr(a, n.m.started)
	if n.m.restorer != nil {
		a.Mode = 0o755
	}
	return 0
}

// Getattr describes restore/.
func (n *restoreNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// Lookup returns README (read-only mount) or a restore's directory.
func (n *restoreNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if n.m.restorer == nil {
		if name != "README" {
			return nil, syscall.ENOENT
		}
		return child(ctx, &n.Inode, name, fuse.S_IFREG, func() attrNode {
			return newTextNode(n.m, "restore/README", func(context.Context) ([]byte, error) { return []byte(readOnlyREADME), nil })
		}, out)
	}
	if _, err := n.m.restorer.Status(ctx, name); err != nil {
		return nil, n.m.errno("restore status of "+name, err)
	}
	return child(ctx, &n.Inode, name, fuse.S_IFDIR, func() attrNode { return &restoreRunNode{m: n.m, name: name} }, out)
}

// Readdir lists README or the restores.
func (n *restoreNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	if n.m.restorer == nil {
		return dirStream([]fuse.DirEntry{{Name: "README", Mode: fuse.S_IFREG}})
	}
	names, err := n.m.restorer.List(ctx)
	if err != nil {
		return nil, n.m.errno("list restores", err)
	}
	es := make([]fuse.DirEntry, len(names))
	for i, name := range names {
		es[i] = fuse.DirEntry{Name: name, Mode: fuse.S_IFDIR}
	}
	return dirStream(es)
}

// Rmdir cancels or clears a restore; without a Restorer it is EROFS.
func (n *restoreNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if n.m.restorer == nil {
		return syscall.EROFS
	}
	if err := n.m.restorer.Cancel(ctx, name); err != nil {
		return n.m.errno("cancel restore "+name, err)
	}
	return 0
}

// restoreRunNode is restore/<name>/: its status file.
type restoreRunNode struct {
	gofs.Inode
	readOnly
	m    *mountFS
	name string
}

var (
	_ gofs.NodeLookuper  = (*restoreRunNode)(nil)
	_ gofs.NodeReaddirer = (*restoreRunNode)(nil)
	_ gofs.NodeGetattrer = (*restoreRunNode)(nil)
)

func (n *restoreRunNode) attr(_ context.Context, a *fuse.Attr) syscall.Errno {
	dirAttr(a, n.m.started)
	return 0
}

// Getattr describes the restore's directory.
func (n *restoreRunNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// Lookup returns status.
func (n *restoreRunNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if name != "status" {
		return nil, syscall.ENOENT
	}
	return child(ctx, &n.Inode, name, fuse.S_IFREG, func() attrNode {
		return newTextNode(n.m, "restore/"+n.name+"/status", func(ctx context.Context) ([]byte, error) {
			return n.m.restorer.Status(ctx, n.name)
		})
	}, out)
}

// Readdir lists status.
func (n *restoreRunNode) Readdir(context.Context) (gofs.DirStream, syscall.Errno) {
	return dirStream([]fuse.DirEntry{{Name: "status", Mode: fuse.S_IFREG}})
}
