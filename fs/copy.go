package fs

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/fs/browse"
)

// A copy into restore/ is a copySession: a directory made in restore/
// (cp -r of a snapshot or a partition) or a file created there (a restore
// spec). The session learns where its files come from — from
// copy_file_range, whose source is a file of the browse tree, or, for
// copies made by read and write, from the readLog — and the first such
// file flushed decides the restore: which snapshot, which partitions,
// which target. Files copied afterwards are accepted and dropped: they
// start nothing more. See docs/mount.md, "Restore by copy".

// copies is the set of copy sessions, by their entry name under restore/.
type copies struct {
	mu     sync.Mutex
	byName map[string]*copySession
}

func (c *copies) get(name string) *copySession {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byName[name]
}

// add registers s unless its entry name is taken.
func (c *copies) add(s *copySession) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName == nil {
		c.byName = map[string]*copySession{}
	}
	if _, ok := c.byName[s.entry]; ok {
		return false
	}
	c.byName[s.entry] = s
	return true
}

func (c *copies) remove(s *copySession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName[s.entry] == s {
		delete(c.byName, s.entry)
	}
}

func (c *copies) rename(s *copySession, to string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byName[to]; ok {
		return false
	}
	delete(c.byName, s.entry)
	s.entry = to
	s.name = browse.RestoreName(to, s.dir)
	c.byName[to] = s
	return true
}

// list returns the sessions, sorted by entry name.
func (c *copies) list() []*copySession {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*copySession, 0, len(c.byName))
	for _, s := range c.byName {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *copySession) int { return strings.Compare(a.entry, b.entry) })
	return out
}

// copySession is one copy into restore/.
type copySession struct {
	m     *mountFS
	entry string // name under restore/
	name  string // the restore's name: entry, or a spec file's name without extension
	dir   bool   // a directory (cp -r) rather than a file (a spec)
	pid   uint32 // process that made the entry
	uid   uint32 // user who made it: the only one (with root) who may change it
	gid   uint32

	mu      sync.Mutex
	base    string // "" when the entry is the copy; else the entry was made beforehand and base, its first child, is the copy
	baseSet bool
	copier  uint32 // process that made the first child: the copy's
	state   browse.CopyPhase
	reason  string
}

func newCopySession(ctx context.Context, m *mountFS, entry string, dir bool) *copySession {
	s := &copySession{m: m, entry: entry, name: browse.RestoreName(entry, dir), dir: dir}
	if c, ok := fuse.FromContext(ctx); ok {
		s.pid, s.uid, s.gid = c.Pid, c.Uid, c.Gid
	}
	return s
}

// childMade notes a directory or file created directly in the session's
// directory. The first one tells whether the entry is the copy itself
// (made by the copying process, as cp -r does) or a directory made
// beforehand that the copy goes into (mkdir restore/X; cp -r … restore/X/).
// A file made first means the directory holds the copied files themselves.
func (s *copySession) childMade(ctx context.Context, name string, dir bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.baseSet {
		return
	}
	s.baseSet = true
	c, ok := fuse.FromContext(ctx)
	if ok {
		s.copier = c.Pid
	}
	if ok && c.Pid != s.pid && dir {
		s.base = name
	}
}

// refuseLate answers EEXIST when a process other than the copy's adds name
// directly into the session's directory after its restore started or was
// refused: a second `cp -r … restore/X` onto an existing X would otherwise
// land in X/<snapshot>/, restore nothing and exit 0.
func (s *copySession) refuseLate(ctx context.Context, name string) syscall.Errno {
	s.mu.Lock()
	st, copier := s.state, s.copier
	s.mu.Unlock()
	if st == browse.CopyWaiting || st == browse.CopyStarting {
		return 0
	}
	c, ok := fuse.FromContext(ctx)
	if !ok || c.Pid == s.pid || c.Pid == copier {
		return 0
	}
	s.m.log.Warn("copy refused: the name is taken by a restore", "entry", "restore/"+s.entry+"/"+name, "restore", s.name, "pid", c.Pid,
		"hint", "copy into a new name under restore/ (cp -r SNAPSHOT restore/NEW-NAME), or remove restore/"+s.entry+" first")
	return syscall.EEXIST
}

// fileDone is called when a file of the copy at rel (relative to the
// session's entry) is flushed with what identifies its source. The first
// identified file starts the restore; its error is returned from Flush so
// that cp reports it. The session's lock is not held while the Restorer
// starts (preflight can take seconds): the session is marked as starting,
// so later files start nothing and its status can be read meanwhile.
func (s *copySession) fileDone(rel string, src source, spec []byte) syscall.Errno {
	s.mu.Lock()
	if s.state != browse.CopyWaiting {
		s.mu.Unlock()
		return 0
	}
	var req RestoreRequest
	switch {
	case src.path != "":
		var ok bool
		if req, ok = s.request(rel, src); !ok {
			s.mu.Unlock()
			return 0
		}
	case spec != nil && !s.dir:
		req = RestoreRequest{Name: s.name, Spec: spec}
	default:
		s.mu.Unlock()
		return 0
	}
	s.state = browse.CopyStarting
	s.mu.Unlock()
	return s.start(req)
}

// start calls Restorer.Start for req and records the outcome.
func (s *copySession) start(req RestoreRequest) syscall.Errno {
	req.UID, req.GID = s.uid, s.gid
	err := s.m.restorer.Start(s.m.ctx, req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.state, s.reason = browse.CopyRejected, err.Error()
		s.m.log.Error("restore by copy", "restore", s.name, "uid", s.uid, "err", err)
		return toErrno(err)
	}
	s.state = browse.CopyStarted
	s.m.log.Info("restore by copy started", "restore", s.name, "uid", s.uid, "source", req.Source.String(), "target", req.Target, "partitions", req.Partitions, "spec", req.Spec != nil)
	return 0
}

// request turns the first identified file into a restore request: the
// directory of src minus the directories of rel is what was copied, and
// browse.CopyRequest says what copying it restores.
func (s *copySession) request(rel string, src source) (RestoreRequest, bool) {
	if !s.dir {
		snap := browse.SnapshotPath(src.loc)
		return RestoreRequest{Name: s.name, Invalid: fmt.Sprintf("restore/%s is a single file copied from %s: copy a snapshot's directory "+
			"(cp -r MOUNTPOINT/%s MOUNTPOINT/restore/) or a partition's (cp -r MOUNTPOINT/%s/P MOUNTPOINT/restore/X)",
			s.entry, src.path, snap, snap)}, true
	}
	if s.base != "" {
		r, ok := strings.CutPrefix(rel, s.base+"/")
		if !ok {
			return RestoreRequest{}, false
		}
		rel = r
	}
	p, ok := browse.CopiedFrom(path.Dir(src.path), path.Dir(rel))
	if !ok {
		return RestoreRequest{}, false
	}
	if p.InSnapshot() {
		p.Topic, p.Version = src.loc.Topic, src.loc.Version // the file's own snapshot
	}
	return browse.CopyRequest(s.name, p, s.base == ""), true
}

// statusText is restore/<name>/status: the Restorer's once it knows the
// restore, else what the copy is waiting for or why it was refused, both
// rendered by browse.RestoreStatus.Render.
func (s *copySession) statusText(ctx context.Context) ([]byte, error) {
	if st, err := s.m.restorer.Status(ctx, s.name); err == nil {
		return st.Render(), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return browse.PendingStatus(s.name, s.state, s.reason, "cp -r MOUNTPOINT/topics/T/snapshots/vN MOUNTPOINT/restore/"+s.name), nil
}
