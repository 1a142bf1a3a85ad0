package webdav

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/kbackup/kbackup/fs/browse"
)

// pageTmpl is a collection's HTML page: a breadcrumb, the snapshot's
// summary on a snapshot's page, and one page of the entries.
var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>kbackup: /{{.Path}}</title>
<style>body{font-family:sans-serif}td,th{padding:0 1em;text-align:left}td.n{text-align:right}</style></head>
<body><nav class="breadcrumb">{{range $i, $c := .Crumbs}}{{if $i}} / {{end}}<a href="{{$c.Href}}">{{$c.Name}}</a>{{end}}</nav>
{{with .Summary}}<p class="summary">{{.Topic}} v{{.Version}}{{if .Active}} (active){{end}}: {{.Records}} records, {{.Segments}} segments,
{{.DecodedBytes}} bytes decoded, {{.StoredBytes}} bytes stored{{with .TimeRange}}, {{.First.UTC.Format "2006-01-02T15:04:05Z"}} to {{.Last.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}</p>{{end}}
{{if .Partition}}<form class="seek" method="get">Records from offset <input name="offset" size="12"> or time <input name="time" size="22" placeholder="2024-05-01T12:00:00Z"> limit <input name="limit" size="5" value="100"> <button>show</button></form>{{end}}
{{with .Records}}<h3>Records from offset {{.First}}</h3><pre class="records">{{range .Lines}}{{.}}
{{end}}</pre><p class="records-paging">{{len .Lines}} records{{if .Prev}} · <a href="{{.Prev}}">previous</a>{{end}}{{if .Next}} · <a href="{{.Next}}">next</a>{{end}}</p>{{end}}
{{if .First}}<h3>First records</h3><pre class="first">{{range .First}}{{.}}
{{end}}</pre><h3>Last records</h3><pre class="last">{{range .Last}}{{.}}
{{end}}</pre>{{end}}
<table><thead><tr><th>Name</th><th>Size</th><th>Records</th><th>Stored</th><th>Modified</th></tr></thead><tbody>
{{range .Entries}}<tr><td><a href="{{.Href}}">{{.Name}}</a></td><td class="n">{{.Size}}</td><td class="n">{{.Records}}</td><td class="n">{{.Stored}}</td><td>{{.Time}}</td></tr>
{{end}}</tbody></table>
<p class="paging">{{.Total}} entries{{if .Prev}} · <a href="?page={{.Prev}}">previous</a>{{end}}{{if .Next}} · <a href="?page={{.Next}}">next</a>{{end}} · page {{.Page}} of {{.Pages}}</p>
</body></html>
`))

type crumb struct{ Name, Href string }

type row struct{ Name, Href, Size, Records, Stored, Time string }

type pageData struct {
	Path        string
	Crumbs      []crumb
	Summary     *browse.SnapshotSummary
	Partition   bool
	Records     *recordsPage // the page ?offset or ?time asked for
	First       []string     // a partition's first records
	Last        []string     // and its last
	Entries     []row
	Total       int
	Prev, Next  int
	Page, Pages int
}

// page writes the HTML page of collection e; ?page=N (from 1) picks the
// entries shown, PageSize at a time. On a partition's page, ?offset,
// ?time and ?limit show a page of records (records.go); on a segments/
// page, ?offset and ?time pick the page of the segment holding that
// record.
func (h *Handler) page(w http.ResponseWriter, r *http.Request, e browse.Entry) {
	ctx := r.Context()
	sk, err := parseSeek(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	es, err := h.tree.List(ctx, e.Path)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := pageData{Path: e.Path.String(), Total: len(es)}
	for q := e.Path; ; q = q.Parent() {
		name := q.Base()
		if q.Kind == browse.KindRoot {
			name = "kbackup"
		}
		d.Crumbs = append([]crumb{{Name: name, Href: href(q, true)}}, d.Crumbs...)
		if q.Kind == browse.KindRoot {
			break
		}
	}
	if e.Path.Kind == browse.KindSnapshot || e.Path.Kind == browse.KindLatest {
		if r, err := h.tree.Resolve(ctx, e.Path); err == nil {
			d.Summary, _ = h.tree.Summary(ctx, r.Loc())
		}
	}
	if e.Path.Kind == browse.KindPartition {
		d.Partition = true
		if sk.set {
			if d.Records, err = h.records(r, e.Path, sk); err != nil {
				h.fail(w, r, err)
				return
			}
		} else {
			rp := e.Path
			rp.Kind = browse.KindRecords
			d.First, d.Last = h.ends(r, rp)
		}
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if e.Path.Kind == browse.KindSegments && sk.set {
		n = sk.segmentFor(es)/h.opts.PageSize + 1
	}
	n = max(n, 1)
	from := min((n-1)*h.opts.PageSize, len(es))
	to := min(from+h.opts.PageSize, len(es))
	d.Page, d.Pages = n, max(1, (len(es)+h.opts.PageSize-1)/h.opts.PageSize)
	if from > 0 {
		d.Prev = n - 1
	}
	if to < len(es) {
		d.Next = n + 1
	}
	for _, c := range es[from:to] {
		rw := row{Name: c.Name(), Href: href(c.Path, isDir(c)), Time: c.ModTime.UTC().Format("2006-01-02 15:04:05")}
		if isDir(c) {
			rw.Name += "/"
		} else {
			rw.Size = strconv.FormatInt(c.Size, 10)
		}
		if c.Records > 0 {
			rw.Records = strconv.FormatInt(c.Records, 10)
			rw.Stored = strconv.FormatInt(c.Stored, 10)
		}
		d.Entries = append(d.Entries, rw)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	if err := pageTmpl.Execute(w, &d); err != nil {
		h.opts.Logger.Warn("render page", "path", d.Path, "err", err)
	}
}

// endRecords and endBytes bound what a partition's page shows of its
// records: the first and last few lines, read from the ends of
// records.jsonl (a block or two each).
const (
	endRecords = 5
	endBytes   = 64 << 10
)

// ends returns the first and last lines of records.jsonl at p.
func (h *Handler) ends(r *http.Request, p browse.Path) (first, last []string) {
	f, err := h.tree.Open(r.Context(), p)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	if f.Size == 0 {
		return nil, nil
	}
	head := make([]byte, min(endBytes, f.Size))
	n, _ := f.ReadAt(head, 0)
	lines := strings.SplitAfter(string(head[:n]), "\n")
	for _, l := range lines[:min(endRecords, len(lines))] {
		if strings.HasSuffix(l, "\n") {
			first = append(first, strings.TrimSuffix(l, "\n"))
		}
	}
	tail := make([]byte, min(endBytes, f.Size))
	n, _ = f.ReadAt(tail, f.Size-int64(len(tail)))
	lines = strings.Split(strings.TrimSuffix(string(tail[:n]), "\n"), "\n")
	if int64(len(tail)) < f.Size {
		lines = lines[1:] // the first may be cut
	}
	return first, lines[max(0, len(lines)-endRecords):]
}
