package webdav

import (
	"encoding/json"
	"html/template"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/fs/browse/browsetest"
)

// TestRecordPages pages through a partition's records by offset and by
// time, and jumps to the page of a long segments/ listing that holds a
// record.
func TestRecordPages(t *testing.T) {
	s := serve(t, Options{PageSize: 1})
	lines := strings.Split(strings.TrimSuffix(string(s.b.Lines[browsetest.V2][0]), "\n"), "\n")
	type rec struct {
		Offset    int64     `json:"offset"`
		Timestamp time.Time `json:"timestamp"`
	}
	recs := make([]rec, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	// shows returns the records of the page body, as fixture lines.
	shows := func(body string) []string {
		_, after, ok := strings.Cut(body, `<pre class="records">`)
		if !ok {
			return nil
		}
		pre, _, _ := strings.Cut(after, "</pre>")
		return strings.Fields(pre)
	}
	esc := func(ls []string) []string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = template.HTMLEscapeString(l)
		}
		return out
	}
	mid := recs[len(recs)/2]
	for _, tt := range []struct {
		name, query string
		want        []string
		links       []string
	}{
		{"by offset", "?offset=25&limit=10", lines[25:35], []string{`href="?offset=35&amp;limit=10">next`, `href="?offset=15&amp;limit=10">previous`}},
		{"from the start", "?offset=0&limit=3", lines[0:3], []string{`href="?offset=3&amp;limit=3">next`}},
		{"across segments", "?offset=18&limit=4", lines[18:22], nil},
		{"by time", "?time=" + mid.Timestamp.UTC().Format(time.RFC3339Nano) + "&limit=2", lines[len(recs)/2 : len(recs)/2+2], nil},
		{"the last", "?offset=" + itoa(recs[len(recs)-1].Offset), lines[len(lines)-1:], nil},
		{"past the end", "?offset=100000", nil, []string{"0 records"}},
	} {
		code, _, body := s.do(t, "GET", "/topics/orders/snapshots/v2/0/"+tt.query)
		if code != 200 {
			t.Errorf("%s: %d %s", tt.name, code, body)
			continue
		}
		if got := shows(body); strings.Join(got, "\n") != strings.Join(esc(tt.want), "\n") {
			t.Errorf("%s: page shows\n%s\nwant\n%s", tt.name, strings.Join(got, "\n"), strings.Join(esc(tt.want), "\n"))
		}
		for _, l := range tt.links {
			if !strings.Contains(body, l) {
				t.Errorf("%s: page lacks %s", tt.name, l)
			}
		}
	}
	if _, _, body := s.do(t, "GET", "/topics/orders/latest/0/?offset=5&limit=1"); strings.Join(shows(body), "") != template.HTMLEscapeString(lines[5]) {
		t.Errorf("paging through latest: %q", shows(body))
	}
	for _, q := range []string{"?offset=-1", "?offset=x", "?time=yesterday", "?limit=0", "?limit=5000"} {
		if code, _, body := s.do(t, "GET", "/topics/orders/snapshots/v2/0/"+q); code != 400 || strings.Count(strings.TrimSpace(body), "\n") != 0 {
			t.Errorf("%s: %d %q, want 400 and one line", q, code, body)
		}
	}
	// segments/ with one entry a page: the page of the segment holding
	// offset 45 is the third.
	_, _, body := s.do(t, "GET", "/topics/orders/snapshots/v2/0/segments/?offset=45")
	if !strings.Contains(body, "00000000000000000040-00000000000000000059.jsonl") || !strings.Contains(body, "page 3 of 3") {
		t.Errorf("segments page for offset 45:\n%s", body)
	}
	_, _, body = s.do(t, "GET", "/topics/orders/snapshots/v2/0/segments/?time="+recs[25].Timestamp.UTC().Format(time.RFC3339))
	if !strings.Contains(body, "00000000000000000020-00000000000000000039.jsonl") || !strings.Contains(body, "page 2 of 3") {
		t.Errorf("segments page for the time of offset 25:\n%s", body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestAppendSegmentName(t *testing.T) {
	for _, tt := range [][2]int64{{0, 0}, {0, 19}, {123456789, 987654321}, {1<<63 - 1, 1<<63 - 1}, {-1, 5}} {
		if got, want := string(appendSegmentName(nil, tt[0], tt[1])), browse.SegmentName(tt[0], tt[1]); got != want {
			t.Errorf("appendSegmentName(%d, %d) = %s, want %s", tt[0], tt[1], got, want)
		}
	}
}
