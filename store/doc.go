// Package store owns kbackup's storage layout on a gocloud.dev/blob bucket.
//
// # Layout
//
// Every key is built in layout.go; nobody else concatenates key strings.
//
//	<prefix>/<topic>/manifest                          snapshot versions (YAML)
//	<prefix>/<topic>/__lease, __time                   single-writer lease, storage clock
//	<prefix>/<topic>/__snapshot_request                pending "snapshot create" for the daemon
//	<prefix>/<topic>/snapshots/v<N>/<topic>/index      index head (YAML)
//	<prefix>/<topic>/snapshots/v<N>/<topic>/index.d/   sealed, immutable index parts
//	<prefix>/<topic>/snapshots/v<N>/<topic>/<ULID>.kan segments
//
// A topic whose cluster exposes no topic IDs uses the flat layout: the index,
// index.d/ and the segments sit directly under <prefix>/<topic>/. Callers see
// it as snapshot version 0.
//
// # Segments
//
// A .kan segment holds the records of one partition in checksummed,
// compressed blocks followed by a footer describing every block, so readers
// can seek by offset, timestamp or decoded byte position with two small
// range reads. See docs/storage-format.md for the byte layout.
//
// # Index
//
// The index is a small head object rewritten on every append plus sealed
// parts that are written once. Appending a segment therefore costs one segment
// write and one head rewrite whatever the backup's age. The index can be
// rebuilt from the segments alone (engine.RebuildIndex, `kbackup index
// rebuild`).
//
// # Crash safety
//
// Objects become visible atomically when their writer closes. A segment is
// written before the index entry that names it, so a crash leaves at most
// orphan segments, which the backup engine adopts or deletes at start-up.
//
// # Retries
//
// Store reaches the bucket through a retrying decorator (retry.go): whole-
// object operations are retried with back-off on transient errors, which
// isTransient alone classifies. Segment uploads stream in parts that the
// cloud SDKs retry. See docs/storage.md.
package store
