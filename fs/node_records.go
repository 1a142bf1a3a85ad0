package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/fs/browse"
)

// recordsNode is one version of a records.jsonl: the file as it was when
// looked up, pinned. Its size, attributes and bytes never change, so it is
// read through the kernel's page cache and keeps it between opens
// (FOPEN_KEEP_CACHE). When the partition grows, loses expired segments or
// has segments merged, the next Lookup (after the one-second entry
// timeout) answers with a new inode for the new content; files open on the
// old inode go on reading the old content from the old inode's cache, so
// no reader sees pages of two versions and every reader's size is exact.
type recordsNode struct {
	treeNode
	f *browse.File // the pinned content; each open reads a Clone
}

var (
	_ gofs.NodeGetattrer = (*recordsNode)(nil)
	_ gofs.NodeOpener    = (*recordsNode)(nil)
)

// recordsChild returns parent's records.jsonl child for entry e: the known
// inode if it holds the same content, else a new inode pinning the content
// the file has now.
func (m *mountFS) recordsChild(ctx context.Context, parent *gofs.Inode, name string, e browse.Entry, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if ch := parent.GetChild(name); ch != nil {
		if r, ok := ch.Operations().(*recordsNode); ok && r.p == e.Path && r.f.ContentID == e.ContentID {
			r.fill(out)
			return ch, 0
		}
	}
	f, err := m.tree.Open(ctx, e.Path)
	if err != nil {
		return nil, m.errno("open "+e.Path.String(), err)
	}
	r := &recordsNode{treeNode: treeNode{m: m, p: e.Path}, f: f}
	r.fill(out)
	return parent.NewInode(ctx, r, gofs.StableAttr{Mode: fuse.S_IFREG}), 0
}

// fill sets out to the pinned attributes: they never change, so the
// kernel may keep them long; the entry stays short-lived so that a newer
// version is looked up within a second.
func (n *recordsNode) fill(out *fuse.EntryOut) {
	fileAttr(&out.Attr, n.f.Size, n.f.ModTime)
	out.SetAttrTimeout(immutableTimeout)
}

// Getattr reports the pinned attributes, never the current file's: the
// kernel sizes its cached pages by them.
func (n *recordsNode) Getattr(_ context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fileAttr(&out.Attr, n.f.Size, n.f.ModTime)
	out.SetTimeout(immutableTimeout)
	return 0
}

// Open reads the pinned content through the page cache.
func (n *recordsNode) Open(_ context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&writeFlags != 0 {
		return nil, 0, syscall.EROFS
	}
	f := n.f.Clone()
	src := sourceOf(f)
	if src.path != "" {
		n.m.reads.opened(src)
	}
	return &fileHandle{m: n.m, f: f, src: src}, fuse.FOPEN_KEEP_CACHE, 0
}
