package webdav

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
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

type sessionState int

const (
	sessionWaiting  sessionState = iota // no file identified the copy yet
	sessionStarting                     // Restorer.Start is running
	sessionStarted                      // the restore runs
	sessionRejected                     // invalid, or refused
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
	state   sessionState
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
	if s.state != sessionWaiting {
		return false
	}
	s.state = sessionStarting
	return true
}

func (s *session) decided(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.state, s.reason = sessionRejected, err.Error()
		return
	}
	s.state = sessionStarted
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
	if relDir != "" {
		r, ok := strings.CutSuffix(root, "/"+relDir)
		if !ok {
			return browse.RestoreRequest{}, false
		}
		root = r
	}
	p, err := browse.Parse(root)
	if err != nil {
		return browse.RestoreRequest{}, false
	}
	return browse.CopyRequest(s.name, p, true), true
}

// status renders restore/NAME/status while the Restorer does not know
// the restore: waiting for a file, starting, or refused.
func (s *session) status() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := browse.RestoreStatus{Name: s.name}
	switch s.state {
	case sessionRejected:
		st.Phase, st.Reason = "Failed", s.reason
	case sessionStarting, sessionStarted:
		st.Phase = "Initializing"
	default:
		st.Phase = "Ready"
		st.Reason = fmt.Sprintf("waiting for a file copied from a snapshot (rclone copy REMOTE:topics/T/snapshots/vN REMOTE:restore/%s)", s.name)
	}
	return st.Render()
}

// splitRestore splits a request path /restore/NAME[/REL] into NAME and
// REL; ok is false for other paths and for names restore/ cannot hold.
func splitRestore(urlPath string) (name, rel string, ok bool) {
	s, found := strings.CutPrefix(urlPath, "/restore/")
	if !found {
		return "", "", false
	}
	s = strings.TrimSuffix(s, "/")
	name, rel, _ = strings.Cut(s, "/")
	if browse.ValidRestoreName(name) != nil {
		return "", "", false
	}
	if rel != "" {
		for _, e := range strings.Split(rel, "/") {
			if browse.ValidRestoreName(e) != nil || len(e) > 255 {
				return "", "", false
			}
		}
	}
	return name, rel, true
}

// serveSession serves a request to restore/NAME[/REL] when NAME is a copy
// session or MKCOL makes one; it reports false to leave the request to
// the tree.
func (h *Handler) serveSession(w http.ResponseWriter, r *http.Request) bool {
	name, rel, ok := splitRestore(r.URL.Path)
	if !ok {
		return false
	}
	if r.Method == "MKCOL" && (r.ContentLength > 0 || len(r.TransferEncoding) > 0) {
		http.Error(w, "MKCOL takes no body", http.StatusUnsupportedMediaType)
		return true
	}
	s := h.sessions.get(name)
	if s == nil {
		if r.Method == "MKCOL" && rel == "" {
			h.mkSession(w, r, name)
			return true
		}
		if rel != "" && rel != "status" && (r.Method == "MKCOL" || r.Method == http.MethodPut) {
			http.Error(w, "restore/"+name+" does not exist: make it first (MKCOL)", http.StatusConflict)
			return true
		}
		return false
	}
	if rel == "status" && (r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == "PROPFIND") {
		if _, err := h.tree.Stat(r.Context(), browse.Path{Kind: browse.KindRestoreStatus, Name: name}); err == nil {
			return false // the Restorer's status
		}
	}
	switch r.Method {
	case http.MethodOptions:
		return false
	case "MKCOL":
		h.sessionMkcol(w, r, s, rel)
	case http.MethodPut:
		h.sessionPut(w, r, s, rel)
	case "PROPFIND":
		h.sessionPropfind(w, r, s, rel)
	case http.MethodGet, http.MethodHead:
		h.sessionGet(w, r, s, rel)
	case http.MethodDelete:
		h.sessionDelete(w, r, s, rel)
	default:
		http.Error(w, r.Method+" is not supported in a copy into restore/", http.StatusForbidden)
	}
	return true
}

// mkSession makes restore/NAME a copy session (MKCOL restore/NAME).
func (h *Handler) mkSession(w http.ResponseWriter, r *http.Request, name string) {
	if !h.mayRestore(r) {
		http.Error(w, "this user may not start restores", http.StatusForbidden)
		return
	}
	if _, err := h.tree.Stat(r.Context(), browse.RestorePath(name)); err == nil {
		http.Error(w, "restore/"+name+" exists", http.StatusMethodNotAllowed)
		return
	}
	if _, err := h.sessions.add(name); err != nil {
		code := http.StatusMethodNotAllowed
		if errors.Is(err, errFull) {
			code = http.StatusInsufficientStorage
		}
		http.Error(w, "restore/"+name+": "+err.Error(), code)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (h *Handler) sessionMkcol(w http.ResponseWriter, r *http.Request, s *session, rel string) {
	if !h.mayRestore(r) {
		http.Error(w, "this user may not start restores", http.StatusForbidden)
		return
	}
	if rel == "" || rel == "status" {
		http.Error(w, "restore/"+s.name+" exists", http.StatusMethodNotAllowed)
		return
	}
	h.answerAdd(w, s, rel, s.add(rel, copied{dir: true}))
}

// answerAdd answers the outcome of adding rel to s.
func (h *Handler) answerAdd(w http.ResponseWriter, s *session, rel string, err error) {
	switch {
	case err == nil:
		w.WriteHeader(http.StatusCreated)
	case errors.Is(err, errNoParent):
		http.Error(w, "restore/"+s.name+"/"+rel+": "+err.Error(), http.StatusConflict)
	case errors.Is(err, errFull):
		http.Error(w, "restore/"+s.name+": "+err.Error(), http.StatusInsufficientStorage)
	default:
		http.Error(w, "restore/"+s.name+"/"+rel+" exists", http.StatusMethodNotAllowed)
	}
}

// sessionPut accepts a file of the copy: its bytes are checksummed and
// dropped; while the copy waits, they may identify it.
func (h *Handler) sessionPut(w http.ResponseWriter, r *http.Request, s *session, rel string) {
	if !h.mayRestore(r) {
		http.Error(w, "this user may not start restores", http.StatusForbidden)
		return
	}
	if rel == "" || rel == "status" {
		http.Error(w, "restore/"+s.name+"/"+rel+" cannot be written", http.StatusMethodNotAllowed)
		return
	}
	crc := crc32.New(crcTable)
	n, err := io.Copy(crc, r.Body)
	if err != nil {
		http.Error(w, "read the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.add(rel, copied{size: n}); err != nil {
		h.answerAdd(w, s, rel, err)
		return
	}
	if n > 0 {
		if src, ok := h.served.match(r.Context(), h.tree, path.Base(rel), n, crc.Sum32()); ok {
			if err := h.decide(r, s, rel, src, false); err != nil {
				h.fail(w, r, err)
				return
			}
		}
	}
	w.WriteHeader(http.StatusCreated)
}

// sessionCopy accepts a COPY from the tree into the copy at rel; while
// the copy waits, the source decides it. No bytes move.
func (h *Handler) sessionCopy(w http.ResponseWriter, r *http.Request, s *session, rel string, src browse.Path, srcDir bool, size int64) {
	if rel == "status" || rel == "" && !srcDir {
		http.Error(w, "restore/"+s.name+"/"+rel+" cannot be written", http.StatusForbidden)
		return
	}
	if rel != "" {
		err := s.add(rel, copied{dir: srcDir, size: size})
		if errors.Is(err, errExists) && r.Header.Get("Overwrite") != "F" && !srcDir {
			err = nil // a file copied again
		}
		if err != nil {
			h.answerAdd(w, s, rel, err)
			return
		}
	}
	if err := h.decide(r, s, rel, src, srcDir); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// decide starts the restore that copying src to rel asks for, if the
// copy still waits for one. A refusal is returned (and shown as the
// copy's status); files after the first identified one start nothing.
func (h *Handler) decide(r *http.Request, s *session, rel string, src browse.Path, srcDir bool) error {
	req, ok := s.request(rel, src, srcDir)
	if !ok || !s.claim() {
		return nil
	}
	err := h.tree.Start(r.Context(), req)
	s.decided(err)
	if err != nil {
		h.opts.Logger.Error("restore by per-file copy", "restore", s.name, "err", err)
		return err
	}
	h.opts.Logger.Info("restore by per-file copy started", "restore", req.Name, "source", req.Source.String(), "target", req.Target,
		"partitions", req.Partitions, "file", rel)
	return nil
}

func (h *Handler) sessionGet(w http.ResponseWriter, r *http.Request, s *session, rel string) {
	if rel == "status" {
		b := s.status()
		w.Header().Set("Content-Type", contentType(browse.Path{Kind: browse.KindRestoreStatus}))
		http.ServeContent(w, r, "status", s.made, strings.NewReader(string(b)))
		return
	}
	c, ok := s.lookup(rel)
	switch {
	case !ok:
		http.Error(w, "restore/"+s.name+"/"+rel+" does not exist", http.StatusNotFound)
	case c.dir:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html><title>restore/%[1]s</title><p>A copy into restore/%[1]s: <a href=\"%[2]s\">status</a>.</p>\n",
			htmlEscape(s.name), href(browse.Path{Kind: browse.KindRestoreStatus, Name: s.name}, false))
	case r.Method == http.MethodHead:
		// What a client checks after a PUT (davfs2 reads the ETag).
		w.Header().Set("Content-Length", strconv.FormatInt(c.size, 10))
		w.Header().Set("Last-Modified", c.mtime.UTC().Format(http.TimeFormat))
		w.Header().Set("ETag", fmt.Sprintf(`"%d-%d"`, c.size, c.mtime.UnixNano()))
	default:
		http.Error(w, "the content of files copied into restore/ is not kept", http.StatusNotFound)
	}
}

func (h *Handler) sessionDelete(w http.ResponseWriter, r *http.Request, s *session, rel string) {
	if !h.mayRestore(r) {
		http.Error(w, "this user may not cancel restores", http.StatusForbidden)
		return
	}
	if rel != "" {
		if !s.remove(rel) {
			http.Error(w, "restore/"+s.name+"/"+rel+" does not exist", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := h.tree.Cancel(r.Context(), s.name); err != nil && !isNotFound(err) {
		h.fail(w, r, err)
		return
	}
	h.sessions.remove(s.name)
	w.WriteHeader(http.StatusNoContent)
}
