// Package engine runs backups and restores. The backup daemon, the one-shot
// backup, the restore command and the mount all drive this package.
//
// # Backup
//
// One franz-go consumer (read_committed, control records kept so that
// transaction markers advance the position) feeds one goroutine per
// partition. Each partition goroutine encodes records into a segment that is
// streamed to storage and rolled by size or age; a rolled segment is first
// closed (made visible) and then appended to the snapshot's index. Every run
// resumes from the index's next offset per partition, so no local state is
// needed. One goroutine per topic holds the topic's storage lease.
//
// # Crash safety
//
// A crash between closing a segment and appending it to the index leaves an
// orphan segment; at start-up orphans that continue their partition are
// adopted and the rest deleted (recover.go).
package engine
