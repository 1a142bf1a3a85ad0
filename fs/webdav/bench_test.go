package webdav

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/fs/browse/browsetest"
	"github.com/kbackup/kbackup/store"
)

// BenchmarkPropfindSegments answers PROPFIND depth 1 of a segments/
// directory of 100k segments over HTTP (issue 14's aim: under 1 s), from
// the index alone. The first request reads the index; the benchmark
// measures the listings after it.
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
	propfind := func() int64 {
		req, _ := http.NewRequest("PROPFIND", srv.URL+"/topics/big/snapshots/v1/0/segments/", nil)
		req.Header.Set("Depth", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusMultiStatus || strings.Count(string(body), "<D:response>") != n+1 {
			b.Fatalf("PROPFIND: %d, %d responses", resp.StatusCode, strings.Count(string(body), "<D:response>"))
		}
		return int64(len(body))
	}
	size := propfind()
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		propfind()
	}
}
