package webdav

import (
	"errors"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kbackup/kbackup/fs/browse"
)

// Restore by per-file copies. Clients that copy a directory file by file
// (rclone copy, davfs2 under cp -r) first make restore/NAME with
// MKCOL, then its subdirectories, then send each file: rclone as a
// server-side COPY from the tree, davfs2 as a PUT of the bytes it read.
// restore/NAME is then a copy session, as a directory made in the mount's
// restore/ is (fs/copy.go), with the same rule: the first file whose
// source is known decides the restore — a COPY names its source; a PUT is
// recognised by name, size and checksum among the tree files lately
// served by GET — and browse.CopyRequest says what copying its directory
// restores. Files sent afterwards are accepted and dropped; no bytes are
// kept, only names and sizes so that the client's checks pass.

// maxSessions and maxEntries bound what copy sessions hold in memory.
const (
	maxSessions = 1024
	maxEntries  = 1 << 20
)

// sessions are the copy sessions, by name under restore/.
type sessions struct {
	mu     sync.Mutex
	byName map[string]*session
}

func (ss *sessions) get(name string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.byName[name]
}

// add registers a session named name, or reports why it cannot.
func (ss *sessions) add(name string) (*session, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.byName == nil {
		ss.byName = map[string]*session{}
	}
	if _, ok := ss.byName[name]; ok {
		return nil, errExists
	}
	if len(ss.byName) >= maxSessions {
		return nil, errFull
	}
	s := &session{name: name, made: time.Now(), entries: map[string]copied{"": {dir: true, mtime: time.Now()}}}
	ss.byName[name] = s
	return s, nil
}

func (ss *sessions) remove(name string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byName, name)
}

// names returns the sessions' names, sorted.
func (ss *sessions) names() []string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]string, 0, len(ss.byName))
	for n := range ss.byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

var (
	errExists = errors.New("exists")
	errFull   = errors.New("too many copies in progress")
)

// copied is one entry of a copy: a directory or a file and its size.
type copied struct {
	dir   bool
	size  int64
	mtime time.Time
}

// session is one copy into restore/NAME.
type session struct {
	name string
	made time.Time

	mu      sync.Mutex
	entries map[string]copied // by path relative to restore/NAME; "" is NAME itself
	state   browse.CopyPhase
	reason  string
}

// add records entry rel; its parent must be a directory of the copy.
func (s *session) add(rel string, c copied) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.entries[parentRel(rel)]; !ok || !p.dir {
		return errNoParent
	}
	if old, ok := s.entries[rel]; ok && (old.dir || c.dir) {
		return errExists
	}
	if len(s.entries) >= maxEntries {
		return errFull
	}
	c.mtime = time.Now()
	s.entries[rel] = c
	return nil
}

var errNoParent = errors.New("parent collection missing")

func (s *session) lookup(rel string) (copied, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.entries[rel]
	return c, ok
}

// remove forgets rel and what is below it.
func (s *session) remove(rel string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[rel]; !ok {
		return false
	}
	for k := range s.entries {
		if k == rel || strings.HasPrefix(k, rel+"/") {
			delete(s.entries, k)
		}
	}
	return true
}

// children returns the entries directly in rel, sorted by name.
func (s *session) children(rel string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.entries {
		if k != "" && k != rel && parentRel(k) == rel {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func parentRel(rel string) string {
	if d := path.Dir(rel); d != "." {
		return d
	}
	return ""
}

// claim marks the session as starting when it waits for a file to decide
// it; only one caller gets true.
func (s *session) claim() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != browse.CopyWaiting {
		return false
	}
	s.state = browse.CopyStarting
	return true
}

func (s *session) decided(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.state, s.reason = browse.CopyRejected, err.Error()
		return
	}
	s.state = browse.CopyStarted
}

// request is the restore asked for by copying src (a resolved path of the
// tree; isDir for a collection) to rel in the session: the directory of
// src minus the directories of rel is what was copied. It is false when
// the names do not line up (a file renamed on the way).
func (s *session) request(rel string, src browse.Path, isDir bool) (browse.RestoreRequest, bool) {
	root, relDir := src.String(), rel
	if !isDir {
		root, relDir = path.Dir(root), parentRel(rel)
	}
	p, ok := browse.CopiedFrom(root, relDir)
	if !ok {
		return browse.RestoreRequest{}, false
	}
	return browse.CopyRequest(s.name, p, true), true
}

// status renders restore/NAME/status while the Restorer does not know
// the restore: waiting for a file, starting, or refused.
func (s *session) status() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return browse.PendingStatus(s.name, s.state, s.reason, "rclone copy REMOTE:topics/T/snapshots/vN REMOTE:restore/"+s.name)
}
