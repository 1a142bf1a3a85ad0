package fs

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/store"
)

// snapshotsNode is topics/<topic>/snapshots/: one v<N> per manifest entry.
type snapshotsNode struct {
	gofs.Inode
	readOnly
	m     *mountFS
	topic string
}

var (
	_ gofs.NodeLookuper  = (*snapshotsNode)(nil)
	_ gofs.NodeReaddirer = (*snapshotsNode)(nil)
	_ gofs.NodeGetattrer = (*snapshotsNode)(nil)
)

func (n *snapshotsNode) attr(ctx context.Context, a *fuse.Attr) syscall.Errno {
	mf, err := n.m.cat.manifest(ctx, n.topic)
	if err != nil {
		return n.m.errno("read manifest of "+n.topic, err)
	}
	var t time.Time
	for _, s := range mf.Snapshots {
		if s.Created.After(t) {
			t = s.Created
		}
	}
	if t.IsZero() {
		t = n.m.started
	}
	dirAttr(a, t)
	return 0
}

// Getattr describes snapshots/; its mtime is the newest snapshot's creation.
func (n *snapshotsNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// parseVersion turns "v3" into 3.
func parseVersion(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "v")
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || strconv.Itoa(v) != s {
		return 0, false
	}
	return v, true
}

// Lookup returns snapshot v<N> if the manifest lists it.
func (n *snapshotsNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	v, ok := parseVersion(name)
	if !ok {
		return nil, syscall.ENOENT
	}
	if _, err := n.m.cat.snapshot(ctx, n.topic, v); err != nil {
		return nil, n.m.errno("read manifest of "+n.topic, err)
	}
	return child(ctx, &n.Inode, name, fuse.S_IFDIR, func() attrNode {
		return &snapshotNode{m: n.m, loc: store.Loc{Topic: n.topic, Version: v}}
	}, out)
}

// Readdir lists the manifest's snapshots.
func (n *snapshotsNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	mf, err := n.m.cat.manifest(ctx, n.topic)
	if err != nil {
		return nil, n.m.errno("read manifest of "+n.topic, err)
	}
	es := make([]fuse.DirEntry, 0, len(mf.Snapshots))
	for _, s := range mf.Snapshots {
		es = append(es, fuse.DirEntry{Name: "v" + strconv.Itoa(s.Version), Mode: fuse.S_IFDIR})
	}
	return dirStream(es)
}
