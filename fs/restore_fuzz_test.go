package fs

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/store"
)

// FuzzCopyRequest derives the restore of a copy from the path a copied
// file has in the copy (rel) and the tree file it came from (srcPath), as
// copy_file_range and the read log report them. Invariants: no panic; a
// valid request restores the source's snapshot into a target, and names
// at most one partition, a non-negative one spelled as in the tree.
// Seeds: testdata/fuzz/FuzzCopyRequest.
func FuzzCopyRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, entry, base, rel, srcPath string, dir bool) {
		if browse.ValidRestoreName(entry) != nil {
			return
		}
		s := &copySession{entry: entry, name: browse.RestoreName(entry, dir), dir: dir, base: base}
		loc := store.Loc{Topic: "t", Version: 1}
		req, ok := s.request(rel, source{loc: loc, path: srcPath})
		if !ok || req.Invalid != "" {
			if ok && req.Name != s.name {
				t.Fatalf("invalid request %+v for %q", req, s.name)
			}
			return
		}
		if !dir || req.Source != loc || req.Target == "" || len(req.Partitions) > 1 {
			t.Fatalf("request %+v from rel %q src %q", req, rel, srcPath)
		}
		for _, p := range req.Partitions {
			if p < 0 || !strings.Contains(srcPath, "/"+strconv.Itoa(int(p))) {
				t.Fatalf("partition %d from %q", p, srcPath)
			}
		}
	})
}

// FuzzSpecWrites replays writes (offset, length, fill byte, decoded from
// the input) into the buffer that keeps a spec written into restore/.
// Invariants: the buffer never exceeds maxSpec; it holds exactly what the
// writes put at their offsets, zeros in holes, unless some write ended
// beyond maxSpec, which drops it all. Seeds: testdata/fuzz/FuzzSpecWrites.
func FuzzSpecWrites(f *testing.F) {
	f.Fuzz(func(t *testing.T, ops []byte) {
		var sb specBuf
		model := map[int64]byte{}
		var size int64
		tooBig := false
		for len(ops) >= 7 {
			off := int64(binary.LittleEndian.Uint32(ops[0:4])) * int64(1+ops[6]%8) // up to 32 GiB
			n := int(binary.LittleEndian.Uint16(ops[4:6]))
			data := bytes.Repeat([]byte{ops[6]}, n)
			ops = ops[7:]
			sb.write(data, off)
			if off+int64(n) > maxSpec {
				tooBig = true
			}
			if !tooBig {
				for i := range n {
					model[off+int64(i)] = data[i]
				}
				size = max(size, off+int64(n))
			}
		}
		if sb.tooBig != tooBig {
			t.Fatalf("tooBig %t, want %t", sb.tooBig, tooBig)
		}
		if tooBig {
			if sb.b != nil {
				t.Fatal("a spec too big kept bytes")
			}
			return
		}
		if int64(len(sb.b)) != size || len(sb.b) > maxSpec {
			t.Fatalf("buffer of %d bytes, want %d", len(sb.b), size)
		}
		for i, c := range sb.b {
			if c != model[int64(i)] {
				t.Fatalf("byte %d is %d, want %d", i, c, model[int64(i)])
			}
		}
	})
}
