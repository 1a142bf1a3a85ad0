package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzCorpus returns the crafted seeds committed under testdata/fuzz: file
// name → file content, per fuzz target.
func fuzzCorpus(t testing.TB) map[string]map[string][]byte {
	const bomb = 16 << 20 // small enough to commit, 16 times the claim
	c := map[string]map[string][]byte{"FuzzSegmentReader": {}, "FuzzDecompress": {}}
	for _, h := range hostileSegments(t, bomb) {
		c["FuzzSegmentReader"]["hostile-"+slug(h.name)] = corpusFile(h.data)
	}
	enc, _ := zstdCoders()
	for name, v := range map[string][]any{
		"zstd-bomb-content-size":    {byte(CodecZstd), uint32(1 << 20), zeroBomb(t, CodecZstd, bomb, true)},
		"zstd-bomb-no-content-size": {byte(CodecZstd), uint32(1 << 20), zeroBomb(t, CodecZstd, bomb, false)},
		"zstd-content-size-4GiB":    {byte(CodecZstd), uint32(1<<32 - 1), enc.EncodeAll([]byte("12345"), nil)},
		"gzip-bomb":                 {byte(CodecGzip), uint32(1 << 20), zeroBomb(t, CodecGzip, bomb/4, false)},
		"snappy-prefix-4GiB":        {byte(CodecSnappy), uint32(64), []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0}},
		"lz4-claims-64MiB":          {byte(CodecLZ4), uint32(MaxBlockLen), []byte{0x10, 0, 0, 0, 0, 0, 0}},
	} {
		c["FuzzDecompress"]["hostile-"+name] = corpusFile(v...)
	}
	return c
}

// TestFuzzCorpus checks that the crafted seeds are committed; -update
// writes them.
func TestFuzzCorpus(t *testing.T) {
	for target, files := range fuzzCorpus(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, want := range files {
			path := filepath.Join(dir, name)
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%v: run go test ./store/ -run TestFuzzCorpus -update", err)
				continue
			}
			if !bytes.HasPrefix(got, []byte("go test fuzz v1\n")) {
				t.Errorf("%s is not a fuzz corpus file", path)
			}
		}
	}
}

// corpusFile encodes values as a `go test fuzz v1` corpus file.
func corpusFile(vals ...any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		default:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		}
	}
	return b.Bytes()
}

// slug turns a test name into a file name.
func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}
