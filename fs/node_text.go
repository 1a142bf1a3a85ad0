package fs

import (
	"bytes"
	"context"
	"io"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/store"
)

// textNode is a small generated file (manifest, snapshot.yaml, index,
// README); render builds its current content.
type textNode struct {
	gofs.Inode
	readOnly
	m      *mountFS
	name   string // for messages
	render func(ctx context.Context) ([]byte, error)
	// loc and path place a file of the browse tree for restore by copy;
	// path is empty for files that are not copy sources.
	loc  store.Loc
	path string
}

var (
	_ gofs.NodeOpener         = (*textNode)(nil)
	_ gofs.NodeGetattrer      = (*textNode)(nil)
	_ gofs.NodeCopyFileRanger = (*textNode)(nil)
)

func newTextNode(m *mountFS, name string, render func(ctx context.Context) ([]byte, error)) *textNode {
	return &textNode{m: m, name: name, render: render}
}

// sourceAt marks the node as the tree file path of loc.
func (n *textNode) sourceAt(loc store.Loc, path string) *textNode {
	n.loc, n.path = loc, path
	return n
}

func (n *textNode) source(b []byte) source {
	if n.path == "" {
		return source{}
	}
	return source{loc: n.loc, path: n.path, size: int64(len(b)), open: func(context.Context) (io.ReaderAt, error) {
		return bytes.NewReader(b), nil
	}}
}

// CopyFileRange copies the text into restore/ without reading it.
func (n *textNode) CopyFileRange(ctx context.Context, _ gofs.FileHandle, offIn uint64, _ *gofs.Inode, fhOut gofs.FileHandle, offOut uint64, length uint64, _ uint64) (uint32, syscall.Errno) {
	if n.path == "" {
		return 0, syscall.EXDEV
	}
	b, err := n.render(ctx)
	if err != nil {
		return 0, n.m.errno("render "+n.name, err)
	}
	return n.m.copySource(n.source(b), offIn, fhOut, offOut, length)
}

func (n *textNode) attr(ctx context.Context, a *fuse.Attr) syscall.Errno {
	b, err := n.render(ctx)
	if err != nil {
		return n.m.errno("render "+n.name, err)
	}
	fileAttr(a, int64(len(b)), n.m.started)
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
	src := n.source(b)
	if src.path != "" {
		n.m.reads.opened(src)
	}
	return &bytesHandle{m: n.m, b: b, src: src}, 0, 0
}
