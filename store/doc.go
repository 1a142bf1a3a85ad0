// Package store owns kbackup's storage layout on a gocloud.dev/blob bucket.
//
// # Layout
//
// Every key is built in layout.go; nobody else concatenates key strings.
//
//	<prefix>/<topic>/manifest.d/<REG>                          snapshot versions (YAML register)
//	<prefix>/<topic>/__lease.d/<REG>, __time                   single-writer lease, storage clock
//	<prefix>/<topic>/__snapshot_request.d/<TOKEN>              pending "snapshot create" requests
//	<prefix>/<topic>/snapshots/v<N>/<topic>/index.d/heads/<REG> index head (YAML register)
//	<prefix>/<topic>/snapshots/v<N>/<topic>/index.d/<EPOCH>/   sealed, immutable index parts
//	<prefix>/<topic>/snapshots/v<N>/<topic>/<ULID>.kan         segments
//	<prefix>/<topic>/snapshots/v<N>/<topic>/groups/<NANOS>-<RAND>.json  consumer-group captures (groups.go)
//
// A topic whose cluster exposes no topic IDs uses the flat layout: the
// index and the segments sit directly under <prefix>/<topic>/. Callers see
// it as snapshot version 0. Format 1 backups (single manifest, index and
// __lease objects) are read, and carried over when first written.
//
// # Registers and fencing
//
// The manifest, each index head and the lease change only by creating the
// next entry of a register (register.go), a compare-and-swap every backend
// supports. A new lease holder writes the manifest and index heads again
// before anything else, so a process that held the topic before and wakes
// up late fails at the storage. Every write also checks the Lease, which
// ends when another process takes it over or when no renewal succeeded for
// its TTL minus a safety margin.
//
// # Segments
//
// A .kan segment holds the records of one partition in checksummed,
// compressed blocks followed by a footer describing every block, so readers
// can seek by offset, timestamp or decoded byte position with two small
// range reads. See docs/storage-format.md for the byte layout.
//
// # Memory
//
// A segment created with SegmentOptions.Spool is encoded into a Spool
// instead of streaming to storage: memory chunks taken from a Budget
// shared by every open segment, or an unlinked file once the segment is
// large or the budget is used up, and Commit uploads it with one upload
// buffer from a second budget. Its open block is charged too, and flushed
// early when the budget is used up. Memory then depends on the budgets,
// not on the number of open segments (engine/backup divides
// --max-memory between them).
//
// # Index
//
// The index is a small head written again on every append plus sealed
// parts that are written once. Appending a segment therefore costs one segment
// write and one head rewrite whatever the backup's age. The index can be
// rebuilt from the segments alone (inspect.RebuildIndex, `kbackup index
// rebuild`).
//
// # Crash safety
//
// Objects become visible atomically when their writer closes, and file
// storage syncs them before anything names them. A segment is written
// before the index entry that names it, so a crash leaves at most orphan
// segments, which the backup engine adopts, deletes (when indexed segments
// hold their records) or reports at start-up.
//
// # Retries
//
// Store reaches the bucket through a retrying decorator (retry.go): whole-
// object operations are retried with back-off on transient errors, which
// isTransient alone classifies. Segment uploads stream in parts that the
// cloud SDKs retry. See docs/storage.md.
package store
