package store

import "errors"

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
	// ErrNoBackup means storage opened with OpenExisting holds no backup.
	ErrNoBackup = errors.New("no kbackup backup")
)
