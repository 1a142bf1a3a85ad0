package webdav

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/fs/browse/browsetest"
)

// TestRcloneCopyRestores copies a snapshot directory into restore/ with
// rclone copy, which makes restore/NAME with MKCOL and COPYs each file
// server-side: the first file decides the restore, no record is read.
func TestRcloneCopyRestores(t *testing.T) {
	s := serve(t, Options{})
	before := s.tree.Stats().Blocks.Load()
	rclone(t, s, "copy", "-vv", "kb:topics/orders/snapshots/v1", "kb:restore/orders-rc")
	req, ok := s.rec.reqs["orders-rc"]
	if !ok || req.Source != browsetest.V1 || req.Target != "orders-rc" || req.Partitions != nil || req.Invalid != "" {
		t.Fatalf("rclone copy asked for %+v (%v)", req, ok)
	}
	if n := s.tree.Stats().Blocks.Load() - before; n != 0 {
		t.Errorf("rclone copy decoded %d blocks, want 0 (a server-side copy)", n)
	}
	got := rclone(t, s, "lsf", "-R", "kb:restore/orders-rc")
	if !strings.Contains(got, "0/records.jsonl") || !strings.Contains(got, "status") {
		t.Errorf("restore/orders-rc after the copy:\n%s", got)
	}
	code, _, body := s.do(t, "GET", "/restore/orders-rc/status")
	if code != 200 || !strings.Contains(body, "target: orders-rc") {
		t.Errorf("status: %d %s", code, body)
	}
	// A partition, into a name of its own.
	rclone(t, s, "copy", "kb:topics/orders/latest/1", "kb:restore/p1")
	if req := s.rec.reqs["p1"]; req.Source != browsetest.V2 || fmt.Sprint(req.Partitions) != "[1]" || req.Target != "p1" {
		t.Errorf("rclone copy of latest/1 asked for %+v", req)
	}
	if code, _, _ := s.do(t, "DELETE", "/restore/orders-rc"); code != http.StatusNoContent {
		t.Errorf("DELETE: %d", code)
	}
	if code, _, _ := s.do(t, "PROPFIND", "/restore/orders-rc/", "Depth", "0"); code != 404 {
		t.Errorf("PROPFIND after DELETE: %d", code)
	}
}

// TestPutCopyRestores plays what davfs2 sends under cp -r: MKCOL of the
// copy's directories, then a PUT of each file read by GET. A file whose
// name, size and checksum are those of a file served decides the
// restore; other files start nothing.
func TestPutCopyRestores(t *testing.T) {
	s := serve(t, Options{})
	put := func(path, body string, hdr ...string) int {
		t.Helper()
		req, _ := http.NewRequest("PUT", s.URL+path, strings.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put("/restore/nodir/0/records.jsonl", "x"); code != http.StatusConflict {
		t.Errorf("PUT without MKCOL: %d, want 409", code)
	}
	if code, _, _ := s.do(t, "MKCOL", "/restore/cp", "X-Test-User", "reader"); code != http.StatusForbidden {
		t.Errorf("MKCOL by a reader: %d", code)
	}
	for _, d := range []string{"/restore/cp", "/restore/cp/1", "/restore/cp/1/segments"} {
		if code, _, body := s.do(t, "MKCOL", d); code != http.StatusCreated {
			t.Fatalf("MKCOL %s: %d %s", d, code, body)
		}
	}
	if code, _, _ := s.do(t, "MKCOL", "/restore/cp"); code != http.StatusMethodNotAllowed {
		t.Errorf("MKCOL of an existing copy: %d", code)
	}
	if code, _, _ := s.do(t, "MKCOL", "/restore/cp/x/y"); code != http.StatusConflict {
		t.Errorf("MKCOL without parent: %d", code)
	}
	if code, _, body := s.do(t, "GET", "/restore/cp/status"); code != 200 || !strings.Contains(body, "phase: Ready") {
		t.Errorf("status while waiting: %d %s", code, body)
	}
	if code, _, body := s.do(t, "PROPFIND", "/restore/", "Depth", "1"); code != 207 || !strings.Contains(body, "<D:href>/restore/cp/</D:href>") {
		t.Errorf("restore/ does not list the copy: %d %s", code, body)
	}
	const src = "/topics/orders/latest/1/records.jsonl"
	_, _, content := s.do(t, "GET", src)
	// Empty files (davfs2 makes a file before it writes it) and files
	// that match nothing start nothing.
	if code := put("/restore/cp/1/records.jsonl", ""); code != http.StatusCreated {
		t.Errorf("PUT of an empty file: %d", code)
	}
	if code := put("/restore/cp/1/records.jsonl", strings.Replace(content, "1", "2", 1)); code != http.StatusCreated {
		t.Errorf("PUT of other bytes: %d", code)
	}
	if _, ok := s.rec.reqs["cp"]; ok {
		t.Fatalf("a file matching nothing started a restore")
	}
	if code := put("/restore/cp/1/records.jsonl", content, "X-Test-User", "reader"); code != http.StatusForbidden {
		t.Errorf("PUT by a reader: %d", code)
	}
	if code := put("/restore/cp/1/records.jsonl", content); code != http.StatusCreated {
		t.Errorf("PUT of the records: %d", code)
	}
	// restore/cp/1/records.jsonl from latest/1/records.jsonl: cp is a
	// copy of the snapshot latest points to.
	if req := s.rec.reqs["cp"]; req.Source != browsetest.V2 || req.Partitions != nil || req.Target != "cp" {
		t.Errorf("the copy asked for %+v", req)
	}
	code, _, body := s.do(t, "PROPFIND", "/restore/cp/1/", "Depth", "1")
	if want := fmt.Sprintf("<D:getcontentlength>%d</D:getcontentlength>", len(content)); code != 207 || !strings.Contains(body, want) {
		t.Errorf("PROPFIND of the copy: %d %s", code, body)
	}
	// A whole snapshot copied by GET and PUT: snapshot.yaml decides.
	s.do(t, "MKCOL", "/restore/v1")
	_, _, yaml := s.do(t, "GET", "/topics/orders/snapshots/v1/snapshot.yaml")
	if code := put("/restore/v1/snapshot.yaml", yaml); code != http.StatusCreated {
		t.Errorf("PUT snapshot.yaml: %d", code)
	}
	if req := s.rec.reqs["v1"]; req.Source != browsetest.V1 || req.Partitions != nil || req.Target != "orders" {
		t.Errorf("cp -r of v1 asked for %+v", req)
	}
}

// TestCopyIntoTakenName copies file by file into the name of a restore
// started before: refused with 412, nothing more is started.
func TestCopyIntoTakenName(t *testing.T) {
	s := serve(t, Options{})
	if code, _, body := s.do(t, "COPY", "/topics/orders/snapshots/v1/", "Destination", "/restore/taken"); code != 201 {
		t.Fatalf("COPY: %d %s", code, body)
	}
	if code, _, _ := s.do(t, "MKCOL", "/restore/taken"); code != http.StatusMethodNotAllowed {
		t.Errorf("MKCOL of a restore: %d", code)
	}
	code, _, body := s.do(t, "COPY", "/topics/orders/snapshots/v2/0/records.jsonl", "Destination", "/restore/taken/0/records.jsonl")
	if code != http.StatusPreconditionFailed || !strings.Contains(body, "new name") {
		t.Errorf("COPY of a file into a restore: %d %s", code, body)
	}
	if req := s.rec.reqs["taken"]; req.Source != browsetest.V1 {
		t.Errorf("the restore changed: %+v", req)
	}
}

// TestCopyTraversal sends per-file copies whose paths climb or hide
// names: none is accepted into a copy, none reaches the tree.
func TestCopyTraversal(t *testing.T) {
	s := serve(t, Options{})
	if code, _, _ := s.do(t, "MKCOL", "/restore/x"); code != 201 {
		t.Fatalf("MKCOL: %d", code)
	}
	for _, tt := range []struct {
		method, path string
		code         int
	}{
		{"MKCOL", "/restore/x/..", 400},
		{"MKCOL", "/restore/x/%2e%2e/%2e%2e/topics/y", 400},
		{"PUT", "/restore/x/../../topics/orders/manifest", 400},
		{"PUT", "/restore/x/a%00b", 400},
		{"PUT", "/restore/x/" + strings.Repeat("a", 300), 404},
		{"MKCOL", "/restore/x/a/b", 409},
		{"DELETE", "/restore/x/nothing", 404},
	} {
		if code, _, body := s.do(t, tt.method, tt.path); code != tt.code {
			t.Errorf("%s %.60s: %d %s, want %d", tt.method, tt.path, code, body, tt.code)
		}
	}
	code, _, body := s.do(t, "COPY", "/topics/orders/snapshots/v1/index", "Destination", "/restore/x/../../topics/z")
	if code != http.StatusBadRequest {
		t.Errorf("COPY to a climbing destination: %d %s", code, body)
	}
	if len(s.rec.reqs) != 0 {
		t.Errorf("restores started: %v", s.rec.reqs)
	}
}
