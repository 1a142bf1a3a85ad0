package webdav

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/kbackup/kbackup/fs/browse"
)

// depth checks PROPFIND's Depth header: 0 or 1. Depth infinity is
// refused, as RFC 4918 allows.
func depth(w http.ResponseWriter, r *http.Request) (string, bool) {
	d := r.Header.Get("Depth")
	if d == "" || d == "infinity" {
		http.Error(w, "PROPFIND needs Depth 0 or 1", http.StatusForbidden)
		return "", false
	}
	if d != "0" && d != "1" {
		http.Error(w, "Depth must be 0 or 1", http.StatusBadRequest)
		return "", false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || !wellFormed(body) {
		http.Error(w, "the PROPFIND body is not well-formed XML", http.StatusBadRequest)
		return "", false
	}
	return d, true
}

// wellFormed reports whether a request body is empty or one well-formed
// XML element with namespaces declared properly (a prefix bound to the
// empty name is not: Namespaces in XML 1.0, section 3).
func wellFormed(b []byte) bool {
	if len(bytes.TrimSpace(b)) == 0 {
		return true
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	roots := 0
	depth := 0
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return roots == 1 && depth == 0
		}
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" && a.Value == "" {
					return false
				}
			}
		case xml.EndElement:
			depth--
		}
	}
}

// propfind answers PROPFIND with every property of the entry (Depth 0)
// and of its children (Depth 1); the request body is read and ignored
// (allprop).
func (h *Handler) propfind(w http.ResponseWriter, r *http.Request, p browse.Path) {
	d, ok := depth(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	e, err := h.tree.Stat(ctx, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var children []browse.Entry
	if d == "1" && isDir(e) {
		if children, err = h.tree.List(ctx, p); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	ms := startMultistatus(w)
	e.Path = p // the entry asked for, by the path asked
	ms.entry(e)
	base := href(p, true)
	for i := range children {
		ms.child(base, &children[i])
	}
	if d == "1" && p.Kind == browse.KindRestores {
		for _, n := range h.sessions.names() {
			if _, err := h.tree.Stat(ctx, browse.RestorePath(n)); err != nil {
				ms.prop(href(browse.RestorePath(n), true), n, true, 0, "", h.tree.Started())
			}
		}
	}
	ms.end()
}

// multistatus writes a 207 Multi-Status body, one response at a time.
type multistatus struct {
	w          *bufio.Writer
	buf        []byte // scratch for numbers and times
	href, name []byte // the response being written
}

func startMultistatus(w http.ResponseWriter) *multistatus {
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusMultiStatus)
	ms := &multistatus{w: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 64), href: make([]byte, 0, 256), name: make([]byte, 0, 256)}
	ms.w.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:multistatus xmlns:D="DAV:">`)
	return ms
}

func (ms *multistatus) end() {
	ms.w.WriteString("</D:multistatus>\n")
	ms.w.Flush()
}

// entry writes the response of an entry of the tree.
func (ms *multistatus) entry(e browse.Entry) {
	dir := isDir(e)
	ct := ""
	if !dir {
		ct = contentType(e.Path)
	}
	ms.prop(href(e.Path, dir), e.Name(), dir, e.Size, ct, e.ModTime)
}

// prop writes one response element; escapedHref is already URL-escaped.
func (ms *multistatus) prop(escapedHref, name string, dir bool, size int64, ctype string, mtime time.Time) {
	ms.href = append(ms.href[:0], escapedHref...)
	ms.name = append(ms.name[:0], name...)
	ms.write(dir, size, ctype, mtime)
}

// child writes the response of e, an entry of the directory whose
// escaped href (with its final slash) is base. It builds the href and
// name in reused buffers, without allocating: a listing of 100k segments
// is 100k of these (BenchmarkPropfindSegments).
func (ms *multistatus) child(base string, e *browse.Entry) {
	dir := isDir(*e)
	if e.Path.Kind == browse.KindSegment {
		ms.name = appendSegmentName(ms.name[:0], e.Path.First, e.Path.Last)
	} else {
		ms.name = append(ms.name[:0], e.Name()...)
	}
	ms.href = append(ms.href[:0], base...)
	if plain(ms.name) {
		ms.href = append(ms.href, ms.name...)
	} else {
		ms.href = append(ms.href, url.PathEscape(string(ms.name))...)
	}
	if dir {
		ms.href = append(ms.href, '/')
	}
	ct := ""
	if !dir {
		ct = contentType(e.Path)
	}
	ms.write(dir, e.Size, ct, e.ModTime)
}

// write writes the response of ms.href and ms.name.
func (ms *multistatus) write(dir bool, size int64, ctype string, mtime time.Time) {
	w := ms.w
	w.WriteString("<D:response><D:href>")
	ms.text(ms.href)
	w.WriteString("</D:href><D:propstat><D:prop><D:displayname>")
	ms.text(ms.name)
	w.WriteString("</D:displayname>")
	if dir {
		w.WriteString("<D:resourcetype><D:collection/></D:resourcetype>")
	} else {
		w.WriteString("<D:resourcetype/><D:getcontentlength>")
		ms.buf = strconv.AppendInt(ms.buf[:0], size, 10)
		w.Write(ms.buf)
		w.WriteString("</D:getcontentlength><D:getcontenttype>")
		w.WriteString(ctype) // fixed strings: nothing to escape
		w.WriteString("</D:getcontenttype>")
	}
	w.WriteString("<D:getlastmodified>")
	ms.buf = mtime.UTC().AppendFormat(ms.buf[:0], http.TimeFormat)
	w.Write(ms.buf)
	w.WriteString("</D:getlastmodified><D:supportedlock/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\n")
}

// text writes b escaped for XML character data.
func (ms *multistatus) text(b []byte) {
	if plain(b) {
		ms.w.Write(b)
		return
	}
	xml.EscapeText(ms.w, b)
}

// plain reports whether b holds only characters that need no escaping in
// a URL path element nor in XML: letters, digits and -._~.
func plain(b []byte) bool {
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// appendSegmentName appends browse.SegmentName(first, last).
func appendSegmentName(b []byte, first, last int64) []byte {
	if first < 0 || last < 0 {
		return append(b, browse.SegmentName(first, last)...)
	}
	b = appendPadded(b, first)
	b = append(b, '-')
	b = appendPadded(b, last)
	return append(b, ".jsonl"...)
}

// appendPadded appends n in decimal, zero-padded to 20 digits.
func appendPadded(b []byte, n int64) []byte {
	var d [20]byte
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, d[:]...)
}

// sessionPropfind answers PROPFIND in a copy into restore/: its
// directories and files as sent, and restore/NAME/status.
func (h *Handler) sessionPropfind(w http.ResponseWriter, r *http.Request, s *session, rel string) {
	d, ok := depth(w, r)
	if !ok {
		return
	}
	relHref := func(rel string, dir bool) string {
		p := "/restore/" + s.name
		if rel != "" {
			p += "/" + rel
		}
		if dir {
			p += "/"
		}
		return (&url.URL{Path: p}).EscapedPath()
	}
	if rel == "status" {
		ms := startMultistatus(w)
		ms.prop(relHref("status", false), "status", false, int64(len(s.status())), contentType(browse.Path{Kind: browse.KindRestoreStatus}), s.made)
		ms.end()
		return
	}
	c, ok := s.lookup(rel)
	if !ok {
		http.Error(w, "restore/"+s.name+"/"+rel+" does not exist", http.StatusNotFound)
		return
	}
	name := s.name
	if rel != "" {
		name = path.Base(rel)
	}
	ms := startMultistatus(w)
	ms.prop(relHref(rel, c.dir), name, c.dir, c.size, "application/octet-stream", c.mtime)
	if d == "1" && c.dir {
		if rel == "" {
			st := browse.Path{Kind: browse.KindRestoreStatus, Name: s.name}
			if e, err := h.tree.Stat(r.Context(), st); err == nil {
				ms.entry(e)
			} else {
				ms.prop(relHref("status", false), "status", false, int64(len(s.status())), contentType(st), s.made)
			}
		}
		for _, k := range s.children(rel) {
			if c, ok := s.lookup(k); ok {
				ms.prop(relHref(k, c.dir), path.Base(k), c.dir, c.size, "application/octet-stream", c.mtime)
			}
		}
	}
	ms.end()
}
