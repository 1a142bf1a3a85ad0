package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// topicsNode is topics/: one directory per topic in storage, listed only
// when read.
type topicsNode struct {
	gofs.Inode
	readOnly
	m *mountFS
}

var (
	_ gofs.NodeLookuper  = (*topicsNode)(nil)
	_ gofs.NodeReaddirer = (*topicsNode)(nil)
	_ gofs.NodeGetattrer = (*topicsNode)(nil)
)

func (n *topicsNode) attr(_ context.Context, a *fuse.Attr) syscall.Errno {
	dirAttr(a, n.m.started)
	return 0
}

// Getattr describes topics/.
func (n *topicsNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// Lookup finds a topic in the topic list; it reads no manifest, so that
// READDIRPLUS of topics/ stays one listing.
func (n *topicsNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ok, err := n.m.cat.hasTopic(ctx, name)
	if err != nil {
		return nil, n.m.errno("list topics", err)
	}
	if !ok {
		return nil, syscall.ENOENT
	}
	return child(ctx, &n.Inode, name, fuse.S_IFDIR, func() attrNode { return &topicNode{m: n.m, topic: name} }, out)
}

// Readdir lists the topics.
func (n *topicsNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ts, err := n.m.cat.topicList(ctx)
	if err != nil {
		return nil, n.m.errno("list topics", err)
	}
	es := make([]fuse.DirEntry, len(ts))
	for i, t := range ts {
		es[i] = fuse.DirEntry{Name: t, Mode: fuse.S_IFDIR}
	}
	return dirStream(es)
}
