package fs

import (
	"context"
	"errors"
	"syscall"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/store"
)

// Errors of this package, classified by toErrno.
var (
	// errReadOnly means a write was attempted on the read-only tree.
	errReadOnly = errors.New("read-only file system")
)

// The restore seam is the browse model's, shared with the WebDAV server.
type (
	// Restorer runs the restores requested through restore/.
	Restorer = browse.Restorer
	// RestoreRequest is one restore asked for through restore/.
	RestoreRequest = browse.RestoreRequest
)

// Errors a Restorer returns from Start that the mount reports with a
// specific errno (others are EIO).
var (
	// ErrInvalidRestore means the request can never run: EINVAL.
	ErrInvalidRestore = browse.ErrInvalidRestore
	// ErrRestoreExists means a restore of that name is already known:
	// EEXIST.
	ErrRestoreExists = browse.ErrRestoreExists
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
	case errors.Is(err, browse.ErrDataGone):
		return syscall.EIO
	case errors.Is(err, browse.ErrNotDir):
		return syscall.ENOTDIR
	case errors.Is(err, browse.ErrNotFile):
		return syscall.EISDIR
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	case store.IsNotFound(err), errors.Is(err, browse.ErrBadPath):
		return syscall.ENOENT
	default:
		return syscall.EIO
	}
}
