package fs

import (
	"context"
	"hash/crc32"
	"io"
	"path"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/store"
)

// source is a file of the read-only tree that can be copied into restore/:
// where it is in the tree and what it holds.
type source struct {
	loc  store.Loc
	path string // canonical path in the mount: topics/T/snapshots/vN/…
	size int64
	// open returns the file's content, to recognise a copy made by read
	// and write (see readLog).
	open func(ctx context.Context) (io.ReaderAt, error)
}

// isSource reports whether a copy of the file at p into restore/ can
// restore: a file of a snapshot, or a topic's manifest.
func isSource(p browse.Path) bool {
	switch p.Kind {
	case browse.KindManifest, browse.KindSnapshotYAML, browse.KindIndex, browse.KindRecords, browse.KindSegment:
		return !p.Latest
	}
	return false
}

// sourceOf describes an open file of the tree for restore by copy; it is
// the zero source for files that are not copy sources.
func sourceOf(f *browse.File) source {
	if !isSource(f.Path) {
		return source{}
	}
	return source{loc: f.Path.Loc(), path: f.Path.String(), size: f.Size, open: func(context.Context) (io.ReaderAt, error) {
		return f.Reopen(), nil
	}}
}

// copySource answers copy_file_range from src: when the destination is a
// file being copied into restore/, it learns where the copy comes from and
// reports the bytes as copied without reading or storing any. Other
// destinations get EXDEV, so that the caller falls back to read and write.
func (m *mountFS) copySource(src source, offIn uint64, fhOut gofs.FileHandle, offOut, length uint64) (uint32, syscall.Errno) {
	h, ok := fhOut.(*copyHandle)
	if !ok {
		return 0, syscall.EXDEV
	}
	if offIn >= uint64(src.size) {
		return 0, 0
	}
	n := min(length, uint64(src.size)-offIn, 1<<30)
	h.copied(src, int64(offOut), int64(n))
	m.stats.copied.Add(int64(n))
	return uint32(n), 0
}

// readLog remembers the tree files opened lately and, for those read from
// start to end, a checksum of their content. A file written into restore/
// by read and write (cat src > dst, rsync) is recognised at Flush by
// comparing its size and checksum with these.
type readLog struct {
	mu    sync.Mutex
	order []string // paths, oldest first
	files map[string]*readRec
}

type readRec struct {
	src  source
	crc  uint32
	full bool // crc covers the whole file
}

const (
	// readLogSize is how many recently opened files are remembered.
	readLogSize = 256
	// maxRechecks and maxRecheckBytes bound the work of one match: at
	// most this many candidates whose checksum is unknown are decoded
	// again, newest first, and at most this many bytes in all.
	maxRechecks     = 4
	maxRecheckBytes = 256 << 20
)

func (l *readLog) opened(src source) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.files == nil {
		l.files = map[string]*readRec{}
	}
	if r, ok := l.files[src.path]; ok && r.src.size == src.size {
		return
	}
	if _, ok := l.files[src.path]; !ok {
		l.order = append(l.order, src.path)
	}
	l.files[src.path] = &readRec{src: src}
	if len(l.order) > readLogSize {
		delete(l.files, l.order[0])
		l.order = l.order[1:]
	}
}

func (l *readLog) readFully(src source, crc uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.files[src.path]; ok && r.src.size == src.size {
		r.crc, r.full = crc, true
	}
}

// match returns the recently opened file whose content is size bytes with
// checksum crc and whose name is base, reading it again if its checksum is
// not known (it was served from the kernel's cache). Rereading is bounded
// (maxRechecks, maxRecheckBytes): a file written into restore/ with the
// name and size of many tree files costs at most that much.
func (l *readLog) match(ctx context.Context, base string, size int64, crc uint32) (source, bool) {
	l.mu.Lock()
	var cands []readRec
	for i := len(l.order) - 1; i >= 0; i-- {
		r := l.files[l.order[i]]
		if r.src.size == size && path.Base(r.src.path) == base {
			cands = append(cands, *r)
		}
	}
	l.mu.Unlock()
	rechecks, budget := 0, int64(maxRecheckBytes)
	for _, r := range cands {
		if !r.full {
			if rechecks == maxRechecks || r.src.size > budget {
				continue
			}
			rechecks++
			budget -= r.src.size
			c, err := checksum(ctx, r.src)
			if err != nil {
				continue
			}
			l.readFully(r.src, c)
			r.crc = c
		}
		if r.crc == crc {
			return r.src, true
		}
	}
	return source{}, false
}

func checksum(ctx context.Context, src source) (uint32, error) {
	ra, err := src.open(ctx)
	if err != nil {
		return 0, err
	}
	h := crc32.New(crcTable)
	if _, err := io.Copy(h, io.NewSectionReader(ra, 0, src.size)); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// seqSum is a running checksum of bytes read or written from offset 0 on,
// in order; any other access makes it unusable.
type seqSum struct {
	next int64
	crc  uint32
	bad  bool
}

func (s *seqSum) add(b []byte, off int64) {
	if s.bad || off != s.next {
		if off < s.next && off+int64(len(b)) <= s.next {
			return // a re-read of bytes already summed
		}
		s.bad = true
		return
	}
	s.crc = crc32.Update(s.crc, crcTable, b)
	s.next += int64(len(b))
}
