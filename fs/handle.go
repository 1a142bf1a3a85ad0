package fs

import (
	"context"
	"errors"
	"io"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// recordHandle is an open decoded file: it reads the view it was opened
// with, whatever happens to the index afterwards.
type recordHandle struct {
	m *mountFS
	r *recordReader
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
	return fuse.ReadResultData(dest[:n]), 0
}

// bytesHandle is an open generated text file.
type bytesHandle struct{ b []byte }

var _ gofs.FileReader = (*bytesHandle)(nil)

// Read serves the text at off.
func (h *bytesHandle) Read(_ context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(h.b)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(h.b[off:min(int64(len(h.b)), off+int64(len(dest)))]), 0
}
