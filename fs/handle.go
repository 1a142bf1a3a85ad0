package fs

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// recordHandle is an open decoded file: it reads the view it was opened
// with, whatever happens to the index afterwards.
type recordHandle struct {
	m   *mountFS
	r   *recordReader
	src source

	mu  sync.Mutex
	sum seqSum
}

var (
	_ gofs.FileReader = (*recordHandle)(nil)
)

// Read serves decoded bytes at off.
func (h *recordHandle) Read(_ context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.r.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.m.errno("read "+h.r.v.loc.String(), err)
	}
	h.m.served(&h.mu, &h.sum, h.src, dest[:n], off)
	return fuse.ReadResultData(dest[:n]), 0
}

// bytesHandle is an open generated text file.
type bytesHandle struct {
	m   *mountFS
	b   []byte
	src source

	mu  sync.Mutex
	sum seqSum
}

var _ gofs.FileReader = (*bytesHandle)(nil)

// Read serves the text at off.
func (h *bytesHandle) Read(_ context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(h.b)) {
		return fuse.ReadResultData(nil), 0
	}
	b := h.b[off:min(int64(len(h.b)), off+int64(len(dest)))]
	h.m.served(&h.mu, &h.sum, h.src, b, off)
	return fuse.ReadResultData(b), 0
}

// served counts bytes read and checksums them, so that a copy of src made
// by read and write can be recognised (readLog).
func (m *mountFS) served(mu *sync.Mutex, sum *seqSum, src source, b []byte, off int64) {
	m.stats.read.Add(int64(len(b)))
	if src.path == "" {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if sum.bad || sum.next == src.size && len(b) == 0 {
		return
	}
	sum.add(b, off)
	if !sum.bad && sum.next == src.size {
		m.reads.readFully(src, sum.crc)
	}
}
