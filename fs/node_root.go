package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/fs/browse"
)

// rootNode is MOUNTPOINT: topics/, restore/ and the hidden .kbackup/.
type rootNode struct {
	gofs.Inode
	readOnly
	m *mountFS
}

var (
	_ gofs.NodeOnAdder   = (*rootNode)(nil)
	_ gofs.NodeGetattrer = (*rootNode)(nil)
	_ gofs.NodeStatfser  = (*rootNode)(nil)
	_ gofs.NodeReaddirer = (*rootNode)(nil)
)

// Readdir lists ., .., restore and topics (.kbackup stays hidden).
func (n *rootNode) Readdir(context.Context) (gofs.DirStream, syscall.Errno) {
	return dirStream([]fuse.DirEntry{{Name: "restore", Mode: fuse.S_IFDIR}, {Name: "topics", Mode: fuse.S_IFDIR}})
}

// OnAdd creates the three fixed children.
func (n *rootNode) OnAdd(ctx context.Context) {
	n.AddChild("topics", n.NewPersistentInode(ctx, &treeNode{m: n.m, p: browse.Path{Kind: browse.KindTopics}}, gofs.StableAttr{Mode: fuse.S_IFDIR}), false)
	n.AddChild("restore", n.NewPersistentInode(ctx, newRestoreNode(n.m), gofs.StableAttr{Mode: fuse.S_IFDIR}), false)
	n.AddChild(statsDir, n.NewPersistentInode(ctx, &statsDirNode{m: n.m}, gofs.StableAttr{Mode: fuse.S_IFDIR}), false)
}

// Getattr describes the root directory.
func (n *rootNode) Getattr(_ context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	dirAttr(&out.Attr, n.m.tree.Started(), 2) // topics, restore
	return 0
}

// Statfs reports an empty, read-only-sized filesystem so df works.
func (n *rootNode) Statfs(_ context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize = 4096
	out.NameLen = 255
	return 0
}
