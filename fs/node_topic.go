package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/store"
)

// topicNode is topics/<topic>/: manifest, latest and snapshots/.
type topicNode struct {
	gofs.Inode
	readOnly
	m     *mountFS
	topic string
}

var (
	_ gofs.NodeLookuper  = (*topicNode)(nil)
	_ gofs.NodeReaddirer = (*topicNode)(nil)
	_ gofs.NodeGetattrer = (*topicNode)(nil)
)

func (n *topicNode) attr(_ context.Context, a *fuse.Attr) syscall.Errno {
	dirAttr(a, n.m.started)
	return 0
}

// Getattr describes the topic directory.
func (n *topicNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// Lookup returns manifest, latest or snapshots; it reads the manifest.
func (n *topicNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if _, err := n.m.cat.manifest(ctx, n.topic); err != nil {
		return nil, n.m.errno("read manifest of "+n.topic, err)
	}
	switch name {
	case "manifest":
		return child(ctx, &n.Inode, name, fuse.S_IFREG, func() attrNode {
			return newTextNode(n.m, n.topic+"/manifest", func(ctx context.Context) ([]byte, error) {
				return n.m.cat.rawManifest(ctx, n.topic)
			}).sourceAt(store.Loc{Topic: n.topic}, "topics/"+n.topic+"/manifest")
		}, out)
	case "latest":
		return child(ctx, &n.Inode, name, fuse.S_IFLNK, func() attrNode { return &latestNode{m: n.m, topic: n.topic} }, out)
	case "snapshots":
		return child(ctx, &n.Inode, name, fuse.S_IFDIR, func() attrNode { return &snapshotsNode{m: n.m, topic: n.topic} }, out)
	}
	return nil, syscall.ENOENT
}

// Readdir lists the fixed entries, or nothing when the topic has no backup.
func (n *topicNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	if _, err := n.m.cat.manifest(ctx, n.topic); err != nil {
		if store.IsNotFound(err) {
			return dirStream(nil)
		}
		return nil, n.m.errno("read manifest of "+n.topic, err)
	}
	return dirStream([]fuse.DirEntry{
		{Name: "latest", Mode: fuse.S_IFLNK},
		{Name: "manifest", Mode: fuse.S_IFREG},
		{Name: "snapshots", Mode: fuse.S_IFDIR},
	})
}
