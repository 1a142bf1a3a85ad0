package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

const (
	// statsDir is the hidden directory at the mount's root that holds
	// the mount's own files.
	statsDir = ".kbackup"
	// statsFile is the file in statsDir with the mount's counters, one
	// "name value" per line: cat MOUNTPOINT/.kbackup/stats.
	statsFile = "stats"
)

// statsDirNode is MOUNTPOINT/.kbackup: read-only, holding stats.
type statsDirNode struct {
	gofs.Inode
	readOnly
	m *mountFS
}

var (
	_ gofs.NodeOnAdder   = (*statsDirNode)(nil)
	_ gofs.NodeGetattrer = (*statsDirNode)(nil)
)

// OnAdd creates the stats file.
func (n *statsDirNode) OnAdd(ctx context.Context) {
	n.AddChild(statsFile, n.NewPersistentInode(ctx, &statsNode{m: n.m}, gofs.StableAttr{Mode: fuse.S_IFREG}), false)
}

// Getattr describes the directory.
func (n *statsDirNode) Getattr(_ context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	dirAttr(&out.Attr, n.m.tree.Started(), 0)
	return 0
}

// statsNode is MOUNTPOINT/.kbackup/stats. Its size is that of the
// counters rendered now; an open handle reads the counters as they were
// at open, with FOPEN_DIRECT_IO so that the kernel neither caches them
// nor cuts them at a size it saw earlier. Reading it is not counted in
// read_bytes, so that a test can read the counters before and after.
type statsNode struct {
	gofs.Inode
	readOnly
	m *mountFS
}

var (
	_ gofs.NodeOpener    = (*statsNode)(nil)
	_ gofs.NodeGetattrer = (*statsNode)(nil)
)

func (n *statsNode) render() []byte { return []byte(n.m.stats.text(n.m.tree.Stats())) }

// Getattr reports the size of the counters now.
func (n *statsNode) Getattr(_ context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fileAttr(&out.Attr, int64(len(n.render())), n.m.tree.Started())
	return 0
}

// Open takes a copy of the counters for this handle.
func (n *statsNode) Open(_ context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&writeFlags != 0 {
		return nil, 0, syscall.EROFS
	}
	return bytesHandle(n.render()), fuse.FOPEN_DIRECT_IO, 0
}

// bytesHandle is an open file of fixed content.
type bytesHandle []byte

var _ gofs.FileReader = bytesHandle(nil)

// Read serves the bytes at off.
func (b bytesHandle) Read(_ context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(b)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(b[off:min(int64(len(b)), off+int64(len(dest)))]), 0
}
