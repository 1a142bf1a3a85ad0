// Package webdav serves the browse tree (package fs/browse) over HTTP:
// WebDAV class 1, read-only except restore/, and plain HTML pages for a
// browser. It is the second adapter over the model, beside the FUSE mount.
//
//   - OPTIONS answers DAV: 1.
//   - PROPFIND (Depth 0 or 1) lists entries with exact sizes (decoded bytes,
//     from the index) and times.
//   - GET and HEAD of a file serve it with Range through the model's
//     reader, which decodes only the blocks a range needs; GET of a
//     collection is an HTML page (breadcrumb, sizes, times, paging).
//   - COPY of a snapshot or partition collection to restore/NAME starts
//     that restore (browse.CopyRequest, the rule the mount uses); no data
//     moves. PUT of a spec as restore/NAME.yaml starts restore NAME from
//     it. GET restore/NAME/status reads its status; DELETE restore/NAME
//     cancels it.
//   - MKCOL restore/NAME, then MKCOL, COPY and PUT below it, is a copy
//     made file by file (rclone copy, davfs2 under cp -r): the first file
//     whose source is known starts the restore (copydir.go).
//   - On a partition's HTML page, ?offset, ?time and ?limit page through
//     its records (records.go).
//
// Everything else that would write is refused with 403. Authentication
// and TLS are the server's (see Options.MayRestore and cmd/kbackup serve).
package webdav

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/store"
)

// Options configure a Handler.
type Options struct {
	// MayRestore reports whether the user of r may start and cancel
	// restores (COPY into and DELETE in restore/). Nil lets everyone.
	MayRestore func(r *http.Request) bool
	// PageSize is the most entries an HTML page lists (default 1000).
	PageSize int
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
}

// Handler serves a browse.Tree. It is safe for concurrent use.
type Handler struct {
	tree     *browse.Tree
	opts     Options
	sessions sessions  // copies into restore/ made file by file
	served   servedLog // tree files lately served, to recognise them in a PUT
}

// New returns the handler of tree.
func New(tree *browse.Tree, opts Options) *Handler {
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{tree: tree, opts: opts}
}

// allow is the Allow header: what the tree answers.
const allow = "OPTIONS, GET, HEAD, PROPFIND, COPY, DELETE, PUT, MKCOL"

// maxPath bounds the request path: the deepest path of the tree is far
// shorter.
const maxPath = 4096

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Path) > maxPath || strings.ContainsRune(r.URL.Path, 0) {
		http.Error(w, "path too long or not a path", http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("DAV", "1")
		w.Header().Set("Allow", allow)
		w.Header().Set("MS-Author-Via", "DAV")
		return
	}
	if h.serveSession(w, r) {
		return
	}
	p, err := browse.Parse(r.URL.Path)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.get(w, r, p)
	case "PROPFIND":
		h.propfind(w, r, p)
	case "COPY":
		h.copy(w, r, p)
	case http.MethodDelete:
		h.delete(w, r, p)
	case http.MethodPut:
		h.put(w, r, p)
	case "MKCOL", "MOVE", "PROPPATCH", http.MethodPost, http.MethodPatch:
		http.Error(w, "read-only: only copies into restore/ and DELETE of a restore change anything", http.StatusForbidden)
	default:
		w.Header().Set("Allow", allow)
		http.Error(w, r.Method+" is not supported", http.StatusMethodNotAllowed)
	}
}

// fail answers err: a path the tree cannot hold or does not hold is 404
// (400 for a path that climbs), a refused restore 409, an unreadable
// segment 502.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, browse.ErrBadPath) && strings.Contains(r.URL.Path, ".."):
		code = http.StatusBadRequest
	case errors.Is(err, browse.ErrBadPath), store.IsNotFound(err):
		code = http.StatusNotFound
	case errors.Is(err, browse.ErrInvalidRestore), errors.Is(err, browse.ErrRestoreExists):
		code = http.StatusConflict
	case errors.Is(err, browse.ErrNoRestorer):
		code = http.StatusForbidden
	case errors.Is(err, browse.ErrDataGone):
		code = http.StatusBadGateway
	case errors.Is(err, context.Canceled):
		return
	}
	if code >= 500 {
		h.opts.Logger.Error("webdav", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	http.Error(w, oneLine(err.Error()), code)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// href is the URL path of p (directories end with a slash).
func href(p browse.Path, dir bool) string {
	s := "/" + p.String()
	if dir && s != "/" {
		s += "/"
	}
	return (&url.URL{Path: s}).EscapedPath()
}

// isDir reports whether e shows as a collection: latest does, as the
// snapshot it points to.
func isDir(e browse.Entry) bool { return e.Type == browse.TypeDir || e.Type == browse.TypeLink }

func contentType(p browse.Path) string {
	switch p.Kind {
	case browse.KindRecords, browse.KindSegment, browse.KindGroup:
		return "application/x-ndjson"
	case browse.KindManifest, browse.KindSnapshotYAML, browse.KindIndex, browse.KindRestoreStatus:
		return "application/yaml; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, p browse.Path) {
	e, err := h.tree.Stat(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if isDir(e) {
		if !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, href(p, true), http.StatusMovedPermanently)
			return
		}
		h.page(w, r, e)
		return
	}
	f, err := h.tree.Open(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer f.Close()
	if rp, err := h.tree.Resolve(r.Context(), p); err == nil {
		h.served.served(rp, f.Size)
	}
	w.Header().Set("Content-Type", contentType(p))
	if f.Immutable {
		w.Header().Set("ETag", fmt.Sprintf(`"%d-%d"`, f.Size, f.ModTime.UnixNano()))
	}
	http.ServeContent(w, r, p.Base(), f.ModTime, io.NewSectionReader(f, 0, f.Size))
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, p browse.Path) {
	if p.Kind != browse.KindRestore {
		http.Error(w, "read-only: only a restore (restore/NAME) can be deleted, which cancels it", http.StatusForbidden)
		return
	}
	if !h.mayRestore(r) {
		http.Error(w, "this user may not cancel restores", http.StatusForbidden)
		return
	}
	if err := h.tree.Cancel(r.Context(), p.Name); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) mayRestore(r *http.Request) bool {
	return h.opts.MayRestore == nil || h.opts.MayRestore(r)
}

// maxSpec bounds a restore spec PUT into restore/.
const maxSpec = 1 << 20

// put starts a restore from a spec (the `kbackup restore -f` format) PUT
// as restore/NAME.yaml: the restore is NAME, as for a spec copied into the
// mount's restore/. Nothing else may be written.
func (h *Handler) put(w http.ResponseWriter, r *http.Request, p browse.Path) {
	if p.Kind != browse.KindRestore {
		http.Error(w, "read-only: only a restore spec can be PUT, as restore/NAME.yaml", http.StatusForbidden)
		return
	}
	if !h.mayRestore(r) {
		http.Error(w, "this user may not start restores", http.StatusForbidden)
		return
	}
	spec, err := io.ReadAll(io.LimitReader(r.Body, maxSpec+1))
	if err != nil {
		http.Error(w, "read the spec: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(spec) > maxSpec {
		http.Error(w, fmt.Sprintf("a restore spec is at most %d bytes", maxSpec), http.StatusRequestEntityTooLarge)
		return
	}
	name := browse.RestoreName(p.Name, false)
	dst := browse.RestorePath(name)
	if _, err := h.tree.Stat(r.Context(), dst); err == nil {
		http.Error(w, "restore/"+name+" exists", http.StatusPreconditionFailed)
		return
	}
	if err := h.tree.Start(r.Context(), browse.RestoreRequest{Name: name, Spec: spec}); err != nil {
		h.fail(w, r, err)
		return
	}
	h.opts.Logger.Info("restore by PUT of a spec started", "restore", name)
	w.Header().Set("Location", href(dst, true))
	w.WriteHeader(http.StatusCreated)
}

// copy starts the restore a COPY of a snapshot or partition collection to
// restore/NAME asks for.
func (h *Handler) copy(w http.ResponseWriter, r *http.Request, src browse.Path) {
	raw, err := destinationPath(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if name, rel, ok := splitRestore(raw); ok {
		if s := h.sessions.get(name); s != nil || rel != "" {
			h.copyIntoSession(w, r, src, s, name, rel)
			return
		}
	}
	dst, err := destination(raw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if dst.Kind != browse.KindRestore {
		http.Error(w, "read-only: COPY goes to restore/NAME, which starts a restore", http.StatusForbidden)
		return
	}
	if !h.mayRestore(r) {
		http.Error(w, "this user may not start restores", http.StatusForbidden)
		return
	}
	ctx := r.Context()
	if _, err := h.tree.Stat(ctx, src); err != nil {
		h.fail(w, r, err)
		return
	}
	if src, err = h.tree.Resolve(ctx, src); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.tree.Stat(ctx, dst); err == nil {
		http.Error(w, "restore/"+dst.Name+" exists", http.StatusPreconditionFailed)
		return
	}
	req := browse.CopyRequest(dst.Name, src, true)
	if err := h.tree.Start(ctx, req); err != nil {
		h.fail(w, r, err)
		return
	}
	h.opts.Logger.Info("restore by COPY started", "restore", req.Name, "source", req.Source.String(), "target", req.Target, "partitions", req.Partitions)
	w.Header().Set("Location", href(dst, true))
	w.WriteHeader(http.StatusCreated)
}

// destinationPath returns the path of the Destination header, refusing
// one that climbs (..), is on another server or is too long.
func destinationPath(r *http.Request) (string, error) {
	d := r.Header.Get("Destination")
	if d == "" {
		return "", errors.New("COPY needs a Destination header")
	}
	u, err := url.Parse(d)
	if err != nil {
		return "", fmt.Errorf("destination %.100q: %v", d, err)
	}
	if u.Host != "" && u.Host != r.Host {
		return "", fmt.Errorf("destination %.100q is on another server", d)
	}
	if len(u.Path) > maxPath {
		return "", errors.New("destination too long")
	}
	if strings.Contains(u.Path, "..") || strings.ContainsRune(u.Path, 0) {
		return "", fmt.Errorf("destination %.100q is not restore/NAME", d)
	}
	return path.Clean("/" + strings.TrimSuffix(u.Path, "/")), nil
}

// destination parses the destination path d as a path of the tree.
func destination(d string) (browse.Path, error) {
	p, err := browse.Parse(d)
	if err != nil {
		return browse.Path{}, fmt.Errorf("destination %.100q is not restore/NAME", d)
	}
	return p, nil
}

// copyIntoSession answers a COPY into a copy made file by file
// (restore/NAME made by MKCOL, or a path below restore/NAME).
func (h *Handler) copyIntoSession(w http.ResponseWriter, r *http.Request, src browse.Path, s *session, name, rel string) {
	if !h.mayRestore(r) {
		http.Error(w, "this user may not start restores", http.StatusForbidden)
		return
	}
	ctx := r.Context()
	if s == nil {
		if _, err := h.tree.Stat(ctx, browse.RestorePath(name)); err == nil {
			http.Error(w, "restore/"+name+" exists: copy into a new name under restore/", http.StatusPreconditionFailed)
			return
		}
		http.Error(w, "restore/"+name+" does not exist: make it first (MKCOL), or COPY a snapshot to restore/"+name, http.StatusConflict)
		return
	}
	e, err := h.tree.Stat(ctx, src)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if src, err = h.tree.Resolve(ctx, src); err != nil {
		h.fail(w, r, err)
		return
	}
	h.sessionCopy(w, r, s, rel, src, isDir(e), e.Size)
}

// httpTime formats t for getlastmodified.
func httpTime(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
