package webdav

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/fs/browse/browsetest"
	"github.com/kbackup/kbackup/store"
)

// BenchmarkPropfindSegments answers PROPFIND depth 1 of a segments/
// directory of 100k segments over HTTP (issue 14's aim: under 1 s), from
// the index alone. The first request reads the index; the benchmark
// measures the listings after it. It reports, measured in the same run,
// the time of a plain listing of the same directory through the browse
// model (what ls of the mount costs the model: Tree.List) and the ratio
// PROPFIND/ls.
func BenchmarkPropfindSegments(b *testing.B) {
	const n = 100_000
	st, err := store.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	loc := store.Loc{Topic: "big", Version: 1}
	browsetest.BigIndex(b, st, loc, n)
	tree := browse.New(context.Background(), st, browse.Options{Refresh: 1 << 40})
	srv := httptest.NewServer(New(tree, Options{}))
	defer srv.Close()
	var body bytes.Buffer
	propfind := func() int64 {
		req, _ := http.NewRequest("PROPFIND", srv.URL+"/topics/big/snapshots/v1/0/segments/", nil)
		req.Header.Set("Depth", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body.Reset()
		if _, err := body.ReadFrom(resp.Body); err != nil {
			b.Fatal(err)
		}
		if c := bytes.Count(body.Bytes(), []byte("<D:response>")); resp.StatusCode != http.StatusMultiStatus || c != n+1 {
			b.Fatalf("PROPFIND: %d, %d responses", resp.StatusCode, c)
		}
		return int64(body.Len())
	}
	segs, err := browse.Parse("topics/big/snapshots/v1/0/segments")
	if err != nil {
		b.Fatal(err)
	}
	ls := func() {
		es, err := tree.List(context.Background(), segs)
		if err != nil || len(es) != n {
			b.Fatalf("List: %d entries, %v", len(es), err)
		}
	}
	size := propfind()
	ls()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	var dav, list time.Duration
	for range b.N {
		t0 := time.Now()
		propfind()
		t1 := time.Now()
		ls()
		dav, list = dav+t1.Sub(t0), list+time.Since(t1)
	}
	b.ReportMetric(float64(dav.Milliseconds())/float64(b.N), "propfind-ms")
	b.ReportMetric(float64(list.Milliseconds())/float64(b.N), "ls-ms")
	b.ReportMetric(float64(dav)/float64(list), "propfind/ls")
}
