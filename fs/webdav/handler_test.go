package webdav

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/fs/browse/browsetest"
	"github.com/kbackup/kbackup/store"
)

// recorder is a Restorer that records what it is asked and shows each
// request as its status, so a test sees exactly what COPY asked for.
type recorder struct {
	mu   sync.Mutex
	reqs map[string]browse.RestoreRequest
}

func (r *recorder) Start(_ context.Context, req browse.RestoreRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.reqs[req.Name]; ok {
		return browse.ErrRestoreExists
	}
	r.reqs[req.Name] = req
	if req.Invalid != "" {
		return fmt.Errorf("%w: %s", browse.ErrInvalidRestore, req.Invalid)
	}
	return nil
}

func (r *recorder) List(context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n := range r.reqs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (r *recorder) Status(_ context.Context, name string) (*browse.RestoreStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.reqs[name]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &browse.RestoreStatus{Name: q.Name, Phase: "Ready", Topics: []browse.TopicStatus{{Source: q.Source.Topic, Snapshot: q.Source.Version, Target: q.Target}}}, nil
}

func (r *recorder) Cancel(_ context.Context, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.reqs[name]; !ok {
		return store.ErrNotFound
	}
	delete(r.reqs, name)
	return nil
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type server struct {
	*httptest.Server
	b    *browsetest.Backup
	tree *browse.Tree
	rec  *recorder
}

// serve starts a server over the test backup, with a recording Restorer;
// the user "reader" may not restore.
func serve(t *testing.T, opts Options) *server {
	t.Helper()
	b := browsetest.New(t)
	rec := &recorder{reqs: map[string]browse.RestoreRequest{}}
	tree := browse.New(context.Background(), b.St, browse.Options{Restorer: rec})
	if opts.MayRestore == nil {
		opts.MayRestore = func(r *http.Request) bool { return r.Header.Get("X-Test-User") != "reader" }
	}
	var hd http.Handler = New(tree, opts)
	if os.Getenv("KBACKUP_DAVLOG") != "" { // debugging clients: log each request
		inner := hd
		hd = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &statusWriter{ResponseWriter: w}
			inner.ServeHTTP(sw, r)
			t.Logf("%s %s depth=%s dest=%s -> %d", r.Method, r.URL.Path, r.Header.Get("Depth"), r.Header.Get("Destination"), sw.code)
		})
	}
	s := httptest.NewServer(hd)
	t.Cleanup(s.Close)
	return &server{Server: s, b: b, tree: tree, rec: rec}
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// do sends a request with a raw (uncleaned) path and returns the status
// and body.
func (s *server) do(t *testing.T, method, path string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path // sent as is: no cleaning of .. by the client
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestOptionsAndReadOnly(t *testing.T) {
	s := serve(t, Options{})
	code, h, _ := s.do(t, "OPTIONS", "/")
	if code != 200 || h.Get("DAV") != "1" || !strings.Contains(h.Get("Allow"), "PROPFIND") {
		t.Errorf("OPTIONS: %d %v", code, h)
	}
	for _, m := range []string{"PUT", "MKCOL", "MOVE", "PROPPATCH", "POST"} {
		if code, _, _ := s.do(t, m, "/topics/orders/manifest"); code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", m, code)
		}
	}
	if code, _, _ := s.do(t, "DELETE", "/topics/orders/manifest"); code != http.StatusForbidden {
		t.Errorf("DELETE of a tree file: %d", code)
	}
	if code, _, _ := s.do(t, "LOCK", "/topics/orders/manifest"); code != http.StatusMethodNotAllowed {
		t.Errorf("LOCK: %d", code)
	}
}

func TestPropfind(t *testing.T) {
	s := serve(t, Options{})
	recs := s.b.Lines[browsetest.V2][1]
	code, _, body := s.do(t, "PROPFIND", "/topics/orders/snapshots/v2/1/", "Depth", "1")
	if code != http.StatusMultiStatus {
		t.Fatalf("PROPFIND: %d %s", code, body)
	}
	for _, want := range []string{
		"<D:href>/topics/orders/snapshots/v2/1/</D:href>",
		"<D:href>/topics/orders/snapshots/v2/1/records.jsonl</D:href>",
		fmt.Sprintf("<D:getcontentlength>%d</D:getcontentlength>", len(recs)),
		"<D:href>/topics/orders/snapshots/v2/1/segments/</D:href><D:propstat><D:prop><D:displayname>segments</D:displayname><D:resourcetype><D:collection/>",
		"<D:getlastmodified>" + httpTime(browsetest.BaseTime.Add(34e9)) + "</D:getlastmodified>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("PROPFIND depth 1 lacks %s:\n%s", want, body)
		}
	}
	code, _, body = s.do(t, "PROPFIND", "/topics/orders/latest", "Depth", "1")
	if code != http.StatusMultiStatus || !strings.Contains(body, "<D:href>/topics/orders/latest/1/</D:href>") {
		t.Errorf("PROPFIND of latest: %d %s", code, body)
	}
	code, _, body = s.do(t, "PROPFIND", "/topics/orders/snapshots/v2/0/segments/00000000000000000000-00000000000000000019.jsonl", "Depth", "0")
	if want := fmt.Sprintf("<D:getcontentlength>%d</D:getcontentlength>", s.b.Segs[browsetest.V2][0][0].DecodedBytes); code != 207 || !strings.Contains(body, want) {
		t.Errorf("PROPFIND of a segment: %d %s", code, body)
	}
	if code, _, _ := s.do(t, "PROPFIND", "/topics", "Depth", "infinity"); code != http.StatusForbidden {
		t.Errorf("Depth infinity: %d", code)
	}
}

func TestGetRange(t *testing.T) {
	s := serve(t, Options{})
	want := string(s.b.Lines[browsetest.V2][0])
	const p = "/topics/orders/snapshots/v2/0/records.jsonl"
	code, h, body := s.do(t, "GET", p)
	if code != 200 || body != want || h.Get("Content-Length") != fmt.Sprint(len(want)) {
		t.Fatalf("GET: %d, %d bytes of %d", code, len(body), len(want))
	}
	before := s.tree.Stats().Blocks.Load()
	code, _, body = s.do(t, "GET", p, "Range", "bytes=-100")
	if code != http.StatusPartialContent || body != want[len(want)-100:] {
		t.Errorf("GET last 100 bytes: %d %q", code, body)
	}
	if n := s.tree.Stats().Blocks.Load() - before; n > 2 {
		t.Errorf("the tail decoded %d blocks, want at most 2", n)
	}
	code, _, body = s.do(t, "GET", p, "Range", "bytes=10-19")
	if code != http.StatusPartialContent || body != want[10:20] {
		t.Errorf("GET bytes 10-19: %d %q", code, body)
	}
	if code, _, body = s.do(t, "GET", "/topics/orders/latest/0/records.jsonl"); body != want {
		t.Errorf("GET through latest: %d", code)
	}
}

func TestHTML(t *testing.T) {
	s := serve(t, Options{PageSize: 1})
	code, h, body := s.do(t, "GET", "/topics/orders/snapshots/v2/", "Accept", "text/html")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("GET collection: %d %v", code, h)
	}
	for _, want := range []string{`<a href="/">kbackup</a> / <a href="/topics/">topics</a> / <a href="/topics/orders/">orders</a>`,
		"orders v2 (active): 95 records, 5 segments", "4 entries", `href="?page=2"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	_, _, body = s.do(t, "GET", "/topics/orders/snapshots/v2/0/segments/?page=2")
	if !strings.Contains(body, "00000000000000000020-00000000000000000039.jsonl") || strings.Contains(body, "00000000000000000000-00000000000000000019.jsonl") {
		t.Errorf("page 2 of segments:\n%s", body)
	}
	_, _, body = s.do(t, "GET", "/topics/orders/snapshots/v2/1/")
	lines := strings.Split(strings.TrimSuffix(string(s.b.Lines[browsetest.V2][1]), "\n"), "\n")
	for _, want := range []string{lines[0], lines[4], lines[len(lines)-5], lines[len(lines)-1]} {
		if !strings.Contains(body, template.HTMLEscapeString(want)) {
			t.Errorf("partition page lacks record %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, template.HTMLEscapeString(lines[5])) {
		t.Errorf("partition page shows a sixth first record")
	}
	if code, h, _ := s.do(t, "GET", "/topics/orders"); code != http.StatusMovedPermanently || h.Get("Location") != "/topics/orders/" {
		t.Errorf("GET of a collection without slash: %d %v", code, h)
	}
}

func TestTraversal(t *testing.T) {
	s := serve(t, Options{})
	for _, tt := range []struct {
		path string
		code int
	}{
		{"/topics/../../etc/passwd", 400},
		{"/topics/%2e%2e/%2e%2e/etc/passwd", 400},
		{"/topics/orders/%2e%2e", 400},
		{"/etc/passwd", 404},
		{"/topics/orders/snapshots/v2/0/records.jsonl/x", 404},
		{"/topics/" + strings.Repeat("a", 300), 404},
		{"/" + strings.Repeat("a/", 3000), 400},
		{"/topics/nope/", 404},
	} {
		if code, _, body := s.do(t, "GET", tt.path); code != tt.code {
			t.Errorf("GET %.60s: %d %s, want %d", tt.path, code, body, tt.code)
		}
	}
}

func TestCopyRestores(t *testing.T) {
	s := serve(t, Options{})
	code, h, body := s.do(t, "COPY", "/topics/orders/snapshots/v1/", "Destination", s.URL+"/restore/orders-copy/")
	if code != http.StatusCreated || h.Get("Location") != "/restore/orders-copy/" {
		t.Fatalf("COPY: %d %s", code, body)
	}
	req := s.rec.reqs["orders-copy"]
	if req.Source != browsetest.V1 || req.Target != "orders-copy" || req.Partitions != nil {
		t.Errorf("COPY asked for %+v", req)
	}
	if code, _, body := s.do(t, "GET", "/restore/orders-copy/status"); code != 200 || !strings.Contains(body, "target: orders-copy") {
		t.Errorf("status: %d %s", code, body)
	}
	// A partition of latest, into a name of its own.
	if code, _, body := s.do(t, "COPY", "/topics/orders/latest/1", "Destination", "/restore/p1"); code != 201 {
		t.Fatalf("COPY of a partition: %d %s", code, body)
	}
	if req := s.rec.reqs["p1"]; req.Source != browsetest.V2 || fmt.Sprint(req.Partitions) != "[1]" || req.Target != "p1" {
		t.Errorf("COPY of latest/1 asked for %+v", req)
	}
	// Keeping the snapshot's name restores into its own topic, as cp -r does.
	s.do(t, "COPY", "/topics/orders/snapshots/v2", "Destination", "/restore/v2")
	if req := s.rec.reqs["v2"]; req.Target != "orders" {
		t.Errorf("COPY to restore/v2 targets %q", req.Target)
	}
	if code, _, _ := s.do(t, "COPY", "/topics/orders/snapshots/v2", "Destination", "/restore/v2"); code != http.StatusPreconditionFailed {
		t.Errorf("a second COPY to restore/v2: %d", code)
	}
	if code, _, body := s.do(t, "COPY", "/topics/orders", "Destination", "/restore/whole"); code != http.StatusConflict || !strings.Contains(body, "not of one snapshot") {
		t.Errorf("COPY of a topic: %d %s", code, body)
	}
	if code, _, _ := s.do(t, "COPY", "/topics/orders/snapshots/v2", "Destination", "/topics/x"); code != http.StatusForbidden {
		t.Errorf("COPY into the tree: %d", code)
	}
	if code, _, _ := s.do(t, "COPY", "/topics/orders/snapshots/v2", "Destination", "/restore/../topics/x"); code != http.StatusBadRequest {
		t.Errorf("COPY to a climbing destination: %d", code)
	}
	if code, _, _ := s.do(t, "COPY", "/topics/orders/snapshots/v2", "Destination", "/restore/r", "X-Test-User", "reader"); code != http.StatusForbidden {
		t.Errorf("COPY by a reader: %d", code)
	}
	if code, _, _ := s.do(t, "DELETE", "/restore/orders-copy", "X-Test-User", "reader"); code != http.StatusForbidden {
		t.Errorf("DELETE by a reader: %d", code)
	}
	if code, _, _ := s.do(t, "DELETE", "/restore/orders-copy"); code != http.StatusNoContent {
		t.Errorf("DELETE: %d", code)
	}
	if code, _, _ := s.do(t, "GET", "/restore/orders-copy/status"); code != 404 {
		t.Errorf("status after DELETE: %d", code)
	}
}

func TestPutSpec(t *testing.T) {
	s := serve(t, Options{})
	put := func(path, body string, hdr ...string) (int, string) {
		req, _ := http.NewRequest("PUT", s.URL+path, strings.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const spec = "config: {topics: [{source: orders}]}\n"
	if code, body := put("/restore/orders-jan.yaml", spec); code != http.StatusCreated {
		t.Fatalf("PUT spec: %d %s", code, body)
	}
	if req := s.rec.reqs["orders-jan"]; string(req.Spec) != spec || req.Source != (store.Loc{}) {
		t.Errorf("PUT asked for %+v", req)
	}
	if code, _ := put("/restore/orders-jan.yaml", spec); code != http.StatusPreconditionFailed {
		t.Errorf("a second PUT of the name: %d", code)
	}
	if code, _ := put("/restore/other.yaml", spec, "X-Test-User", "reader"); code != http.StatusForbidden {
		t.Errorf("PUT by a reader: %d", code)
	}
	if code, _ := put("/restore/big.yaml", strings.Repeat("#", maxSpec+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("PUT of a huge spec: %d", code)
	}
	if code, _ := put("/restore/x/status", spec); code != http.StatusForbidden {
		t.Errorf("PUT of a status file: %d", code)
	}
}
