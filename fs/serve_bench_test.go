package fs

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/fs/webdav"
	"github.com/kbackup/kbackup/integration/benchtab"
)

// BenchmarkServeGetVsCat compares a GET of a whole records.jsonl from
// kbackup serve (fs/webdav, over loopback HTTP) with cat of the same file
// through the mount (issue 14: at least 0.7× the mount). Both read the
// same 64 MB partition from the same store and decode it (the mount's page
// cache is dropped before each cat); the contenders alternate (benchtab).
func BenchmarkServeGetVsCat(b *testing.B) {
	requireFUSE(b)
	st, loc := benchBackup(b)
	ctx := context.Background()
	size, err := decodeTo(ctx, st, loc, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	mp := mountStore(b, st, Options{})
	rec := filepath.Join(mp, "topics/bench/snapshots/v0/0/records.jsonl")
	srv := httptest.NewServer(webdav.New(browse.New(ctx, st, browse.Options{}), webdav.Options{}))
	b.Cleanup(srv.Close)
	url := srv.URL + "/topics/bench/snapshots/v0/0/records.jsonl"
	wantSize := func(n int64) error {
		if n != size {
			return fmt.Errorf("read %d bytes, want %d", n, size)
		}
		return nil
	}
	get := benchtab.Contender{
		Name:     "GET records.jsonl",
		Settings: "kbackup serve over loopback HTTP, 128 KiB reads",
		Run: func(m *benchtab.Measure) error {
			var n int64
			err := m.MBps("MB/s", size, func() error {
				resp, err := http.Get(url)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("GET: %s", resp.Status)
				}
				n, err = io.CopyBuffer(io.Discard, onlyReader{resp.Body}, make([]byte, 128<<10))
				return err
			})
			if err != nil {
				return err
			}
			return wantSize(n)
		},
	}
	cat := benchtab.Contender{
		Name:     "cat records.jsonl",
		Settings: "through the mount, page cache dropped first, 128 KiB reads",
		Run: func(m *benchtab.Measure) error {
			var n int64
			// The mount keeps records.jsonl in the page cache, and serve
			// decodes every GET: both sides must decode.
			dropCache(b, rec)
			_ = m.MBps("MB/s", size, func() error { n = catFile(b, rec); return nil })
			return wantSize(n)
		},
	}
	res := benchtab.Run(b, benchtab.Options{}, get, cat)
	catSide := res.Side(cat.Name, "MB/s")
	res.Figure(benchtab.Figure{ID: "serve-get-records", Name: "serve: GET records.jsonl vs cat through the mount", Unit: "MB/s",
		Kbackup: res.Side(get.Name, "MB/s"), Peer: &catSide, Goal: benchtab.AtLeast(0.7, "issue 14"),
		Note: fmt.Sprintf("%.0f MB of JSON lines, 8 zstd segments, file storage", float64(size)/1e6)})
}
