package webdav

import (
	"bufio"
	"encoding/xml"
	"io"
	"net/http"
	"strconv"

	"github.com/kbackup/kbackup/fs/browse"
)

// propfind answers PROPFIND with every property of the entry (Depth 0)
// and of its children (Depth 1); the request body is read and ignored
// (allprop). Depth infinity is refused, as RFC 4918 allows.
func (h *Handler) propfind(w http.ResponseWriter, r *http.Request, p browse.Path) {
	depth := r.Header.Get("Depth")
	if depth == "" || depth == "infinity" {
		http.Error(w, "PROPFIND needs Depth 0 or 1", http.StatusForbidden)
		return
	}
	if depth != "0" && depth != "1" {
		http.Error(w, "Depth must be 0 or 1", http.StatusBadRequest)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	ctx := r.Context()
	e, err := h.tree.Stat(ctx, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	es := []browse.Entry{e}
	if depth == "1" && isDir(e) {
		children, err := h.tree.List(ctx, p)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		es = append(es, children...)
	}
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusMultiStatus)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:multistatus xmlns:D="DAV:">`)
	for i, c := range es {
		if i == 0 {
			c.Path = p // the entry asked for, by the path asked
		}
		writeResponse(bw, c)
	}
	bw.WriteString("</D:multistatus>\n")
	bw.Flush()
}

// writeResponse writes one response element.
func writeResponse(w *bufio.Writer, e browse.Entry) {
	dir := isDir(e)
	w.WriteString("<D:response><D:href>")
	xml.EscapeText(w, []byte(href(e.Path, dir)))
	w.WriteString("</D:href><D:propstat><D:prop><D:displayname>")
	xml.EscapeText(w, []byte(e.Name()))
	w.WriteString("</D:displayname>")
	if dir {
		w.WriteString("<D:resourcetype><D:collection/></D:resourcetype>")
	} else {
		w.WriteString("<D:resourcetype/><D:getcontentlength>")
		w.WriteString(strconv.FormatInt(e.Size, 10))
		w.WriteString("</D:getcontentlength><D:getcontenttype>")
		xml.EscapeText(w, []byte(contentType(e.Path)))
		w.WriteString("</D:getcontenttype>")
	}
	w.WriteString("<D:getlastmodified>")
	w.WriteString(httpTime(e.ModTime))
	w.WriteString("</D:getlastmodified><D:supportedlock/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\n")
}
