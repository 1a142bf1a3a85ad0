package webdav

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/fs/browse/browsetest"
	"github.com/kbackup/kbackup/store"
)

// discard is a ResponseWriter that counts the body and keeps nothing.
type discard struct {
	h http.Header
	n int64
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { d.n += int64(len(b)); return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkPropfindHandler is BenchmarkPropfindSegments without HTTP:
// the handler's own work for PROPFIND depth 1 of 100k segments (listing
// from the cached index, and writing the XML), on one goroutine, so
// that it is steadier on a busy machine.
func BenchmarkPropfindHandler(b *testing.B) {
	const n = 100_000
	st, err := store.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	loc := store.Loc{Topic: "big", Version: 1}
	browsetest.BigIndex(b, st, loc, n)
	h := New(browse.New(context.Background(), st, browse.Options{Refresh: 1 << 40}), Options{})
	req := httptest.NewRequest("PROPFIND", "/topics/big/snapshots/v1/0/segments/", nil)
	req.Header.Set("Depth", "1")
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, req)
	b.SetBytes(w.n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h.ServeHTTP(&discard{h: http.Header{}}, req)
	}
}
