package fs

import (
	"context"
	"errors"
	"syscall"

	"github.com/kbackup/kbackup/store"
)

// Errors of this package, classified by toErrno.
var (
	// errDataGone means a segment the index names cannot be read any more
	// (deleted by retention, or lost).
	errDataGone = errors.New("segment data is gone")
	// errReadOnly means a write was attempted on the read-only tree.
	errReadOnly = errors.New("read-only file system")
)

// toErrno maps an error to the errno returned to the kernel. It is the only
// place that classifies errors for FUSE.
func toErrno(err error) syscall.Errno {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, errReadOnly):
		return syscall.EROFS
	case errors.Is(err, ErrInvalidRestore):
		return syscall.EINVAL
	case errors.Is(err, ErrRestoreExists):
		return syscall.EEXIST
	case errors.Is(err, errDataGone):
		return syscall.EIO
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	case store.IsNotFound(err):
		return syscall.ENOENT
	default:
		return syscall.EIO
	}
}
