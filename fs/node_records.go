package fs

import (
	"context"
	"fmt"
	"io"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/store"
)

// recordsNode is <p>/records.jsonl: every record of the partition. It grows
// while a backup runs.
type recordsNode struct {
	gofs.Inode
	readOnly
	partRef
}

var (
	_ gofs.NodeOpener         = (*recordsNode)(nil)
	_ gofs.NodeCopyFileRanger = (*recordsNode)(nil)
	_ gofs.NodeGetattrer      = (*recordsNode)(nil)
)

func (n *recordsNode) attr(ctx context.Context, a *fuse.Attr) syscall.Errno {
	v, err := n.m.cat.partition(ctx, n.loc, n.p)
	if err != nil {
		return n.m.errno("read index of "+n.loc.String(), err)
	}
	fileAttr(a, v.size(), lastTime(v.entries))
	return 0
}

// Getattr reports the exact decoded size of the current index. It ignores
// the file handle: go-fuse passes some open handle even for stat(2) by
// path, and an old handle's view would hide growth.
func (n *recordsNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// Open pins the current index as the file's view. The file is opened with
// FOPEN_DIRECT_IO: the kernel's page cache is shared by all opens of the
// inode, so a reader opened before growth would otherwise see bytes
// appended after it opened. Every read therefore comes to the handle, which
// serves its own view.
func (n *recordsNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&writeFlags != 0 {
		return nil, 0, syscall.EROFS
	}
	v, err := n.m.cat.partition(ctx, n.loc, n.p)
	if err != nil {
		return nil, 0, n.m.errno("read index of "+n.loc.String(), err)
	}
	r := newRecordReader(n.m.ctx, n.m.st, v, n.m.cat.now, n.m.log, &n.m.stats)
	src := n.m.viewSource(n.loc, fmt.Sprintf("%s/%d/records.jsonl", snapshotPath(n.loc), n.p), v)
	n.m.reads.opened(src)
	return &recordHandle{m: n.m, r: r, src: src}, fuse.FOPEN_DIRECT_IO, 0
}

// CopyFileRange copies records.jsonl into restore/ without reading it.
func (n *recordsNode) CopyFileRange(ctx context.Context, _ gofs.FileHandle, offIn uint64, _ *gofs.Inode, fhOut gofs.FileHandle, offOut uint64, length uint64, _ uint64) (uint32, syscall.Errno) {
	v, err := n.m.cat.partition(ctx, n.loc, n.p)
	if err != nil {
		return 0, n.m.errno("read index of "+n.loc.String(), err)
	}
	src := n.m.viewSource(n.loc, fmt.Sprintf("%s/%d/records.jsonl", snapshotPath(n.loc), n.p), v)
	return n.m.copySource(src, offIn, fhOut, offOut, length)
}

// viewSource describes a decoded file for restore by copy.
func (m *mountFS) viewSource(loc store.Loc, path string, v *view) source {
	return source{loc: loc, path: path, size: v.size(), open: func(ctx context.Context) (io.ReaderAt, error) {
		return newRecordReader(m.ctx, m.st, v, m.cat.now, m.log, &m.stats), nil
	}}
}

// segmentNode is segments/<first>-<last>.jsonl: one immutable segment.
type segmentNode struct {
	gofs.Inode
	readOnly
	m   *mountFS
	loc store.Loc
	e   store.SegmentEntry
}

var (
	_ gofs.NodeOpener         = (*segmentNode)(nil)
	_ gofs.NodeCopyFileRanger = (*segmentNode)(nil)
	_ gofs.NodeGetattrer      = (*segmentNode)(nil)
)

func (n *segmentNode) immutable() {}

func (n *segmentNode) attr(_ context.Context, a *fuse.Attr) syscall.Errno {
	fileAttr(a, n.e.DecodedBytes, n.e.LastTimestamp)
	return 0
}

// Getattr reports the segment's decoded size and last record time.
func (n *segmentNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// Open opens the segment with FOPEN_KEEP_CACHE: its bytes never change.
func (n *segmentNode) Open(_ context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&writeFlags != 0 {
		return nil, 0, syscall.EROFS
	}
	v := newView(n.loc, []store.SegmentEntry{n.e})
	r := newRecordReader(n.m.ctx, n.m.st, v, n.m.cat.now, n.m.log, &n.m.stats)
	src := n.source()
	n.m.reads.opened(src)
	return &recordHandle{m: n.m, r: r, src: src}, fuse.FOPEN_KEEP_CACHE, 0
}

func (n *segmentNode) source() source {
	path := fmt.Sprintf("%s/%d/segments/%s", snapshotPath(n.loc), n.e.Partition, segmentName(&n.e))
	return n.m.viewSource(n.loc, path, newView(n.loc, []store.SegmentEntry{n.e}))
}

// CopyFileRange copies the segment file into restore/ without reading it.
func (n *segmentNode) CopyFileRange(_ context.Context, _ gofs.FileHandle, offIn uint64, _ *gofs.Inode, fhOut gofs.FileHandle, offOut uint64, length uint64, _ uint64) (uint32, syscall.Errno) {
	return n.m.copySource(n.source(), offIn, fhOut, offOut, length)
}
