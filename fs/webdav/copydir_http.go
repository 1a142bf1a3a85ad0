package webdav

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/kbackup/kbackup/fs/browse"
)

// The requests of a copy made file by file into restore/ (copydir.go).

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
