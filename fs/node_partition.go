package fs

import (
	"context"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/store"
)

// partitionNode is v<N>/<p>/: records.jsonl and segments/.
type partitionNode struct {
	gofs.Inode
	readOnly
	partRef
}

var (
	_ gofs.NodeLookuper  = (*partitionNode)(nil)
	_ gofs.NodeReaddirer = (*partitionNode)(nil)
	_ gofs.NodeGetattrer = (*partitionNode)(nil)
)

// lastTime is the last record time of es, or zero.
func lastTime(es []store.SegmentEntry) time.Time {
	if len(es) == 0 {
		return time.Time{}
	}
	return es[len(es)-1].LastTimestamp
}

// partRef names one partition of one snapshot; the partition's nodes
// (its directory, records.jsonl, segments/) embed it.
type partRef struct {
	m   *mountFS
	loc store.Loc
	p   int32
}

// attr describes a directory of the partition: its mtime is the partition's
// last record time. recordsNode overrides it.
func (r *partRef) attr(ctx context.Context, a *fuse.Attr) syscall.Errno {
	v, err := r.m.cat.partition(ctx, r.loc, r.p)
	if err != nil {
		return r.m.errno("read index of "+r.loc.String(), err)
	}
	dirAttr(a, lastTime(v.entries))
	return 0
}

// Getattr describes the partition; its mtime is its last record's time.
func (n *partitionNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// Lookup returns records.jsonl or segments/.
func (n *partitionNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	switch name {
	case "records.jsonl":
		return child(ctx, &n.Inode, name, fuse.S_IFREG, func() attrNode { return &recordsNode{partRef: n.partRef} }, out)
	case "segments":
		return child(ctx, &n.Inode, name, fuse.S_IFDIR, func() attrNode { return &segmentsNode{partRef: n.partRef} }, out)
	}
	return nil, syscall.ENOENT
}

// Readdir lists records.jsonl and segments/.
func (n *partitionNode) Readdir(context.Context) (gofs.DirStream, syscall.Errno) {
	return dirStream([]fuse.DirEntry{
		{Name: "records.jsonl", Mode: fuse.S_IFREG},
		{Name: "segments", Mode: fuse.S_IFDIR},
	})
}
