package storetest

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"testing"

	"gocloud.dev/blob"

	"github.com/kbackup/kbackup/store"
)

// Prefix is the storage prefix every backend is tested under, to prove
// `?prefix=` works for each scheme.
const Prefix = "backups/"

// ForEachBackend runs fn on mem, file and each emulator (mem and file only
// with -short), as subtests named after the backend. url opens the storage
// under Prefix; raw opens the same bucket without it.
func ForEachBackend(t *testing.T, fn func(t *testing.T, url, raw string)) {
	t.Run("mem", func(t *testing.T) {
		// mem:// buckets are private to each Open: share one through New.
		fn(t, "", "")
	})
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		fn(t, "file://"+filepath.ToSlash(dir)+"?prefix="+Prefix, "file://"+filepath.ToSlash(dir))
	})
	if testing.Short() {
		return // the emulators are for make test, not the edit loop
	}
	for _, e := range Emulators {
		t.Run(e.Name, func(t *testing.T) {
			host := e.Start(t)
			fn(t, e.URL(t, host, "&prefix="+Prefix), e.URL(t, host, ""))
		})
	}
}

// Opener returns a function that opens independent Store instances on url
// (for mem, instances over one shared bucket).
func Opener(t testing.TB, url string) func() *store.Store {
	var memBucket *blob.Bucket
	if url == "" {
		b, err := blob.OpenBucket(context.Background(), "mem://")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		memBucket = b
	}
	return func() *store.Store {
		if memBucket != nil {
			return store.New(memBucket)
		}
		st, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

// CheckSegmentBytes reads e's whole object and checks it against its index
// entry: size, CRC-32C and every block.
func CheckSegmentBytes(t testing.TB, st *store.Store, loc store.Loc, e store.SegmentEntry) {
	t.Helper()
	var buf bytes.Buffer
	if err := st.CopySegment(context.Background(), loc, e.ULID, &buf); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != e.StoredBytes {
		t.Fatalf("segment %s has %d bytes, index says %d", e.ULID, buf.Len(), e.StoredBytes)
	}
	sum := fmt.Sprintf("crc32c:%08x", crc32.Checksum(buf.Bytes(), crc32.MakeTable(crc32.Castagnoli)))
	if sum != e.Checksum {
		t.Fatalf("segment %s checksum %s, index says %s", e.ULID, sum, e.Checksum)
	}
	if _, err := store.ScanSegment(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Fatalf("segment %s: %v", e.ULID, err)
	}
}
