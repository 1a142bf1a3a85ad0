package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/fs/browse"
)

// textNode is a generated file outside the browse model: the status file
// of a copy in progress, which render builds.
type textNode struct {
	gofs.Inode
	readOnly
	m      *mountFS
	name   string // for messages
	render func(ctx context.Context) ([]byte, error)
}

var (
	_ gofs.NodeOpener    = (*textNode)(nil)
	_ gofs.NodeGetattrer = (*textNode)(nil)
)

func newTextNode(m *mountFS, name string, render func(ctx context.Context) ([]byte, error)) *textNode {
	return &textNode{m: m, name: name, render: render}
}

func (n *textNode) attr(ctx context.Context, a *fuse.Attr) syscall.Errno {
	b, err := n.render(ctx)
	if err != nil {
		return n.m.errno("render "+n.name, err)
	}
	fileAttr(a, int64(len(b)), n.m.tree.Started())
	return 0
}

// Getattr reports the current content's size (go-fuse may pass any open
// handle, so the handle is ignored).
func (n *textNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// Open renders the content once for this handle.
func (n *textNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&writeFlags != 0 {
		return nil, 0, syscall.EROFS
	}
	b, err := n.render(ctx)
	if err != nil {
		return nil, 0, n.m.errno("render "+n.name, err)
	}
	return &fileHandle{m: n.m, f: browse.BytesFile(b)}, 0, 0
}
