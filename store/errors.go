package store

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped) by this package.
var (
	// ErrNotFound means the object, topic or snapshot does not exist.
	ErrNotFound = errors.New("not found")
	// ErrLeaseHeld means another process holds the topic's lease.
	ErrLeaseHeld = errors.New("storage error: resource already held by someone else")
	// ErrLeaseLost means the lease was taken over by someone else.
	ErrLeaseLost = errors.New("storage error: lease lost to another holder")
	// ErrCorrupt means stored bytes fail a checksum or do not parse.
	ErrCorrupt = errors.New("corrupt object")
	// ErrNoAtomicCreate means the backend cannot create an object only if absent.
	ErrNoAtomicCreate = errors.New("storage backend cannot create objects atomically (if-not-exists)")
	// ErrFormat means a stored object was written by a newer format version.
	ErrFormat = errors.New("unsupported storage format version")
	// ErrFlatLayout means a versioning operation was asked of a
	// flat-layout topic, which has no manifest and cannot keep versions.
	ErrFlatLayout = errors.New("topic uses the flat layout, which cannot keep snapshot versions")
	// ErrNoStorage means no storage URL was given.
	ErrNoStorage = errors.New("no storage given")
	// ErrStopWalk, returned by a Walk callback, ends the walk without an
	// error.
	ErrStopWalk = errors.New("stop walk")
	// ErrRecordRefused means a segment cannot take a record: beyond a
	// format limit, or out of order. Trying again cannot help.
	ErrRecordRefused = errors.New("record refused by the segment format")
	// ErrNoBackup means storage opened with OpenExisting holds no backup.
	ErrNoBackup = errors.New("no kbackup backup")
)

// Errors handled inside this package.
var (
	// errExists means a create-if-absent found the object there.
	errExists = errors.New("object exists")
	// errReleased is the lease's error after Release.
	errReleased = fmt.Errorf("%w: released", ErrLeaseLost)
	// errPartGone means a sealed index part vanished while it was read.
	errPartGone = errors.New("index part vanished")
	// errRaced means another writer created the head entry first.
	errRaced = errors.New("index head written by another process")
	// errListRace means a listing failed because an object vanished while
	// it ran; listing again succeeds.
	errListRace = errors.New("an object vanished during the listing")
	// errIncompressible means a block did not shrink when compressed.
	errIncompressible = errors.New("incompressible block")
)
