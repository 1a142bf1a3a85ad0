package fs

import (
	"context"
	"strconv"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/store"
)

// latestNode is topics/<topic>/latest, a symlink to the active snapshot.
type latestNode struct {
	gofs.Inode
	readOnly
	m     *mountFS
	topic string
}

var (
	_ gofs.NodeReadlinker = (*latestNode)(nil)
	_ gofs.NodeGetattrer  = (*latestNode)(nil)
)

func (n *latestNode) target(ctx context.Context) ([]byte, error) {
	mf, err := n.m.cat.manifest(ctx, n.topic)
	if err != nil {
		return nil, err
	}
	return []byte("snapshots/v" + strconv.Itoa(mf.Active)), nil
}

func (n *latestNode) attr(ctx context.Context, a *fuse.Attr) syscall.Errno {
	t, err := n.target(ctx)
	if err != nil {
		return n.m.errno("read manifest of "+n.topic, err)
	}
	a.Mode = 0o777
	a.Size = uint64(len(t))
	setTime(a, n.m.started)
	return 0
}

// Getattr describes the symlink.
func (n *latestNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// Readlink returns "snapshots/v<active>" and notes who read it, so that
// a copy of the symlink into restore/ can tell the topic (linkLog).
func (n *latestNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	mf, err := n.m.cat.manifest(ctx, n.topic)
	if err != nil {
		return nil, n.m.errno("read manifest of "+n.topic, err)
	}
	t := "snapshots/v" + strconv.Itoa(mf.Active)
	if c, ok := caller(ctx); ok {
		n.m.links.read(c.Pid, t, store.Loc{Topic: n.topic, Version: mf.Active})
	}
	return []byte(t), 0
}
