package browse

import (
	"errors"
	"fmt"
)

// Errors of the browse model. Adapters classify them (FUSE errnos, HTTP
// status codes); store.ErrNotFound means a path that does not exist.
var (
	// ErrBadPath means a path the tree's grammar does not allow (Parse).
	ErrBadPath = errors.New("not a path of the tree")
	// ErrDataGone means a segment the index names cannot be read any more
	// (deleted by retention, or lost).
	ErrDataGone = errors.New("segment data is gone")
	// ErrNotFile means a directory or link was opened for reading.
	ErrNotFile = errors.New("not a file")
	// ErrNotDir means a file was listed.
	ErrNotDir = errors.New("not a directory")
	// ErrInvalidRestore means the request can never run (a malformed spec,
	// a partition that does not exist).
	ErrInvalidRestore = errors.New("invalid restore")
	// ErrRestoreExists means a restore of that name is already known.
	ErrRestoreExists = errors.New("restore exists")
	// ErrNoRestorer means restoring was asked of a tree without a
	// Restorer (no Kafka cluster to restore into).
	ErrNoRestorer = errors.New("nothing to restore into: no Kafka cluster was given")
)

func badPath(path, why string) error {
	return fmt.Errorf("%w: %.300q: %s", ErrBadPath, path, why)
}
