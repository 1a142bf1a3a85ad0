package fs

import (
	"context"
	"errors"

	"github.com/kbackup/kbackup/store"
)

// Restorer runs the restores requested through MOUNTPOINT/restore/. The
// mount calls it; a nil Restorer makes restore/ read-only, holding only a
// README that says why (no --brokers were given).
//
// Restore-by-copy (cp -r of a snapshot or partition into restore/, a spec
// file copied in) is built on this seam: the copy handling turns what was
// copied into a RestoreRequest and calls Start.
type Restorer interface {
	// Start begins the restore req and returns once it is accepted; the
	// restore runs in the background and is known as req.Name. An error
	// means nothing was started (a preflight failure, for instance).
	Start(ctx context.Context, req RestoreRequest) error
	// List returns the names of the restores known, running or finished.
	List(ctx context.Context) ([]string, error)
	// Status returns the text of restore/<name>/status. It returns an
	// error matching store.ErrNotFound for an unknown name.
	Status(ctx context.Context, name string) ([]byte, error)
	// Cancel stops a running restore, or forgets a finished one. It may be
	// called more than once.
	Cancel(ctx context.Context, name string) error
}

// RestoreRequest is one restore asked for through restore/.
type RestoreRequest struct {
	// Name is the entry under restore/ that shows the restore.
	Name string
	// Source is the snapshot copied.
	Source store.Loc
	// Partitions limits the restore to these partitions; nil means all.
	Partitions []int32
	// Target is the topic to restore into.
	Target string
	// Spec, when set, is a restore spec in the `kbackup restore -f` format
	// that was copied into restore/; it replaces the fields above.
	Spec []byte
	// Invalid, when set, is a copy that cannot be restored and why (what
	// to copy instead). Start records the name with status Invalid and
	// this reason, and returns an error matching ErrInvalidRestore.
	Invalid string
	// UID and GID are the user who asked (for logs and audit); the mount
	// checked that this user may restore.
	UID, GID uint32
}

// Errors a Restorer returns from Start that the mount reports with a
// specific errno (others are EIO).
var (
	// ErrInvalidRestore means the request can never run (a malformed spec,
	// a partition that does not exist): EINVAL.
	ErrInvalidRestore = errors.New("invalid restore")
	// ErrRestoreExists means a restore of that name is already known:
	// EEXIST.
	ErrRestoreExists = errors.New("restore exists")
)
