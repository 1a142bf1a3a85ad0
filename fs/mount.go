package fs

import (
	"context"
	"fmt"
	"log"
	"os"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/store"
)

// Server is a mounted kbackup filesystem.
type Server struct {
	srv        *fuse.Server
	mountpoint string
	cancel     context.CancelFunc
	done       chan struct{}
}

// Mount shows st at mountpoint and serves it until Unmount, the file system
// being unmounted from outside (umount, fusermount3 -u), or ctx being
// cancelled, which unmounts. The mountpoint must be an empty directory, not
// already mounted on and, for file storage, outside the storage directory;
// otherwise Mount returns an error matching ErrMountpoint or
// ErrMountInStorage. As root it mounts directly (no fusermount3 needed).
func Mount(ctx context.Context, st *store.Store, mountpoint string, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	mp, err := checkMountpoint(mountpoint, storageDir(st))
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &mountFS{
		ctx: sctx, log: opts.Logger, restorer: opts.Restorer, access: newAccess(opts),
		tree: browse.New(sctx, st, browse.Options{Refresh: opts.Refresh, Restorer: opts.Restorer, Logger: opts.Logger}),
	}
	timeout := min(shortTimeout, opts.Refresh)
	fo := &gofs.Options{
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		UID:             uint32(os.Getuid()),
		GID:             uint32(os.Getgid()),
		MountOptions: fuse.MountOptions{
			FsName:       "kbackup",
			Name:         "kbackup",
			DirectMount:  os.Geteuid() == 0,
			AllowOther:   opts.AllowOther,
			Debug:        opts.Debug,
			MaxWrite:     1 << 20,
			MaxReadAhead: 1 << 20,
			// Every read answers from decoded bytes in memory: splicing
			// them through a pipe gains nothing, and a 1 MiB answer plus
			// its header does not fit the default pipe (go-fuse would log
			// each fallback).
			DisableSplice: true,
		},
	}
	if opts.Debug {
		fo.Logger = log.New(os.Stderr, "kbackup-fuse: ", log.LstdFlags)
	}
	srv, err := serve(mp, noXattrRead{RawFileSystem: gofs.NewNodeFS(&rootNode{m: m}, fo), st: &m.stats}, &fo.MountOptions)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("mount %s: %w", mp, err)
	}
	if err := setReadAhead(mp, readAheadKiB); err != nil {
		opts.Logger.Debug("mount reads ahead 128 KiB", "err", err)
	}
	s := &Server{srv: srv, mountpoint: mp, cancel: cancel, done: make(chan struct{})}
	go func() {
		srv.Wait()
		cancel()
		close(s.done)
	}()
	go func() {
		select {
		case <-ctx.Done():
			if err := s.Unmount(); err != nil {
				opts.Logger.Error("unmount on cancel", "mountpoint", mp, "err", err)
			}
		case <-s.done:
		}
	}()
	return s, nil
}

// serve mounts raw at mp and serves it (gofs.Mount, with raw wrapped).
func serve(mp string, raw fuse.RawFileSystem, mo *fuse.MountOptions) (*fuse.Server, error) {
	srv, err := fuse.NewServer(raw, mp, mo)
	if err != nil {
		return nil, err
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		return nil, err
	}
	return srv, nil
}

// Mountpoint returns the absolute path the server is mounted on.
func (s *Server) Mountpoint() string { return s.mountpoint }

// Wait blocks until the file system is unmounted.
func (s *Server) Wait() { <-s.done }

// Unmount unmounts the file system and waits until serving stopped. It may
// be called more than once; it fails (and may be retried) while files are
// open.
func (s *Server) Unmount() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.srv.Unmount(); err != nil {
		return fmt.Errorf("unmount %s: %w", s.mountpoint, err)
	}
	<-s.done
	return nil
}
