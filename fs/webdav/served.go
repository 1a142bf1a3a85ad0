package webdav

import (
	"context"
	"hash/crc32"
	"html"
	"io"
	"sync"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/store"
)

// servedLog remembers the tree files lately served by GET, so that a
// file PUT into a copy in restore/ (davfs2 under cp -r reads each file,
// then writes it) can be recognised: same name, same size, same
// checksum. It plays the part of the mount's readLog (fs/copy_source.go).
type servedLog struct {
	mu    sync.Mutex
	order []string // canonical paths, oldest first
	files map[string]*servedFile
}

type servedFile struct {
	path  browse.Path // resolved: never through latest/
	size  int64
	crc   uint32
	known bool // crc is set
}

const (
	// servedLogSize is how many served files are remembered.
	servedLogSize = 256
	// maxRechecks and maxRecheckBytes bound one match: at most this many
	// candidates are read again to checksum them, and this many bytes.
	maxRechecks     = 4
	maxRecheckBytes = 256 << 20
)

// isSource reports whether a file at p copied into restore/ can decide a
// restore (the rule of fs/copy_source.go).
func isSource(p browse.Path) bool {
	switch p.Kind {
	case browse.KindManifest, browse.KindSnapshotYAML, browse.KindIndex, browse.KindRecords, browse.KindSegment:
		return !p.Latest
	}
	return false
}

// served notes that the file at p (resolved) of size bytes was served.
func (l *servedLog) served(p browse.Path, size int64) {
	if !isSource(p) {
		return
	}
	key := p.String()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.files == nil {
		l.files = map[string]*servedFile{}
	}
	if f, ok := l.files[key]; ok {
		if f.size != size {
			*f = servedFile{path: p, size: size}
		}
		return
	}
	l.order = append(l.order, key)
	l.files[key] = &servedFile{path: p, size: size}
	if len(l.order) > servedLogSize {
		delete(l.files, l.order[0])
		l.order = l.order[1:]
	}
}

// match returns the served file named base of size bytes whose content
// has checksum crc, newest first, reading candidates again (bounded) to
// checksum them.
func (l *servedLog) match(ctx context.Context, tree *browse.Tree, base string, size int64, crc uint32) (browse.Path, bool) {
	l.mu.Lock()
	var cands []servedFile
	for i := len(l.order) - 1; i >= 0; i-- {
		f := l.files[l.order[i]]
		if f.size == size && f.path.Base() == base {
			cands = append(cands, *f)
		}
	}
	l.mu.Unlock()
	rechecks, budget := 0, int64(maxRecheckBytes)
	for _, f := range cands {
		if !f.known {
			if rechecks == maxRechecks || f.size > budget {
				continue
			}
			rechecks++
			budget -= f.size
			c, err := checksum(ctx, tree, f.path, f.size)
			if err != nil {
				continue
			}
			f.crc = c
			l.mu.Lock()
			if g, ok := l.files[f.path.String()]; ok && g.size == f.size {
				g.crc, g.known = c, true
			}
			l.mu.Unlock()
		}
		if f.crc == crc {
			return f.path, true
		}
	}
	return browse.Path{}, false
}

func checksum(ctx context.Context, tree *browse.Tree, p browse.Path, size int64) (uint32, error) {
	f, err := tree.Open(ctx, p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := crc32.New(crcTable)
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func htmlEscape(s string) string { return html.EscapeString(s) }

func isNotFound(err error) bool { return store.IsNotFound(err) }
