package fs

import (
	"context"
	"strconv"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/store"
)

// snapshotNode is snapshots/v<N>/: snapshot.yaml, index and one directory
// per partition.
type snapshotNode struct {
	gofs.Inode
	readOnly
	m   *mountFS
	loc store.Loc
}

var (
	_ gofs.NodeLookuper  = (*snapshotNode)(nil)
	_ gofs.NodeReaddirer = (*snapshotNode)(nil)
	_ gofs.NodeGetattrer = (*snapshotNode)(nil)
)

func (n *snapshotNode) attr(ctx context.Context, a *fuse.Attr) syscall.Errno {
	s, err := n.m.cat.snapshot(ctx, n.loc.Topic, n.loc.Version)
	if err != nil {
		return n.m.errno("read manifest of "+n.loc.Topic, err)
	}
	t := s.Created
	if t.IsZero() {
		t = n.m.started // flat layout: no creation time is recorded
	}
	dirAttr(a, t)
	return 0
}

// Getattr describes the snapshot; its mtime is the snapshot's creation.
func (n *snapshotNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// partitions returns the snapshot's partitions.
func (n *snapshotNode) partitions(ctx context.Context) ([]int32, error) {
	s, err := n.m.cat.snapshot(ctx, n.loc.Topic, n.loc.Version)
	if err != nil {
		return nil, err
	}
	ix, err := n.m.cat.index(ctx, n.loc)
	if err != nil {
		return nil, err
	}
	return partitionIDs(s, ix), nil
}

// snapshotYAML renders snapshot.yaml from the current manifest and index.
func (n *snapshotNode) snapshotYAML(ctx context.Context) ([]byte, error) {
	mf, err := n.m.cat.manifest(ctx, n.loc.Topic)
	if err != nil {
		return nil, err
	}
	s, ok := mf.Get(n.loc.Version)
	if !ok {
		return nil, store.ErrNotFound
	}
	ix, err := n.m.cat.index(ctx, n.loc)
	if err != nil {
		return nil, err
	}
	return renderSnapshot(s, mf.Active == s.Version, ix)
}

// Lookup returns snapshot.yaml, index or a partition directory.
func (n *snapshotNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	switch name {
	case "snapshot.yaml":
		return child(ctx, &n.Inode, name, fuse.S_IFREG, func() attrNode {
			return newTextNode(n.m, n.loc.String()+"/snapshot.yaml", n.snapshotYAML).sourceAt(n.loc, snapshotPath(n.loc)+"/snapshot.yaml")
		}, out)
	case "index":
		return child(ctx, &n.Inode, name, fuse.S_IFREG, func() attrNode {
			return newTextNode(n.m, n.loc.String()+"/index", func(ctx context.Context) ([]byte, error) { return n.m.cat.indexText(ctx, n.loc) }).sourceAt(n.loc, snapshotPath(n.loc)+"/index")
		}, out)
	}
	p, err := strconv.ParseInt(name, 10, 32)
	if err != nil || strconv.FormatInt(p, 10) != name {
		return nil, syscall.ENOENT
	}
	ps, err := n.partitions(ctx)
	if err != nil {
		return nil, n.m.errno("read index of "+n.loc.String(), err)
	}
	for _, q := range ps {
		if q == int32(p) {
			return child(ctx, &n.Inode, name, fuse.S_IFDIR, func() attrNode {
				return &partitionNode{partRef: partRef{m: n.m, loc: n.loc, p: q}}
			}, out)
		}
	}
	return nil, syscall.ENOENT
}

// Readdir lists snapshot.yaml, index and the partitions.
func (n *snapshotNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ps, err := n.partitions(ctx)
	if err != nil {
		return nil, n.m.errno("read index of "+n.loc.String(), err)
	}
	es := []fuse.DirEntry{{Name: "index", Mode: fuse.S_IFREG}, {Name: "snapshot.yaml", Mode: fuse.S_IFREG}}
	for _, p := range ps {
		es = append(es, fuse.DirEntry{Name: strconv.Itoa(int(p)), Mode: fuse.S_IFDIR})
	}
	return dirStream(es)
}
