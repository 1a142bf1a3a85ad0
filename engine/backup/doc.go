// Package backup copies Kafka topics into storage: the backup daemon and
// the one-shot backup (Run), with the daemon's snapshot rotation and
// retention pass (ApplyRetention). Restoring is package restore; verifying,
// describing and repairing a backup is package inspect.
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
//
// # Snapshots and retention
//
// At every discovery the daemon cuts a new snapshot version when one was
// requested (kbackup snapshot create) or --snapshot-every has passed, and
// runs the retention pass over every snapshot of the topics it holds
// (rotate.go, retention.go). Both write only under the topic's lease.
package backup
