package store

import (
	"strings"
	"testing"

	"github.com/kbackup/kbackup/store/storetest/fuzzcheck"
)

// fuzzCorpus returns the crafted seeds committed under testdata/fuzz: file
// name → file content, per fuzz target.
func fuzzCorpus(t testing.TB) map[string]map[string][]byte {
	const bomb = 16 << 20 // small enough to commit, 16 times the claim
	c := map[string]map[string][]byte{"FuzzSegmentReader": {}, "FuzzDecompress": {}}
	for _, h := range hostileSegments(t, bomb) {
		c["FuzzSegmentReader"]["hostile-"+slug(h.name)] = fuzzcheck.CorpusFile(h.data)
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
		c["FuzzDecompress"]["hostile-"+name] = fuzzcheck.CorpusFile(v...)
	}
	return c
}

// TestFuzzCorpus checks that the crafted seeds are committed; -update
// writes them.
func TestFuzzCorpus(t *testing.T) {
	for target, seeds := range fuzzCorpus(t) {
		fuzzcheck.Seeds(t, target, seeds, *update)
	}
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
