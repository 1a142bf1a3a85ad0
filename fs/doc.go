// Package fs shows kbackup's storage as a read-only FUSE filesystem. The
// tree, its paths, sizes and files are the browse model's (package
// fs/browse, shared with the WebDAV server fs/webdav); the go-fuse nodes
// here adapt it (one treeNode for the whole read-only tree) and add what
// only a mount has: copy sessions in restore/, the read log, access by
// uid and gid, kernel cache hints.
//
// # Tree
//
//	MOUNTPOINT/
//	  topics/<topic>/manifest                      the topic's manifest (YAML)
//	  topics/<topic>/latest -> snapshots/v<N>      the active snapshot
//	  topics/<topic>/snapshots/v<N>/snapshot.yaml  summary of the snapshot
//	  topics/<topic>/snapshots/v<N>/index          the full index (YAML)
//	  topics/<topic>/snapshots/v<N>/<p>/records.jsonl
//	  topics/<topic>/snapshots/v<N>/<p>/segments/<first>-<last>.jsonl
//	  restore/                                     see Restorer
//
// A flat-layout topic shows as the single snapshot v0. Record lines are
// written by store.AppendJSONLine.
//
// # Sizes and reads
//
// Decoded files report their exact size from the decoded byte counts the
// index records; nothing is decoded to learn a size. A read at any offset
// finds its segment by cumulative size, opens only that segment's footer and
// decodes only the block that holds the offset. Each open file keeps its last
// two decoded blocks (read-ahead requests for neighbouring blocks arrive
// together), so sequential reads decode every block about once and memory
// stays at a few blocks per open file.
//
// # Kernel caching
//
// Segment files never change: they are opened with FOPEN_KEEP_CACHE and get
// long entry and attribute timeouts. records.jsonl grows while a backup runs
// and loses its head when expired segments leave the index, and the page
// cache belongs to the inode, shared by every open; so each version of a
// records.jsonl is an inode of its own (recordsNode), pinned to the content
// it was looked up with: its size and bytes never change, it is read
// through the page cache and keeps it (FOPEN_KEEP_CACHE). A Lookup after
// the content changed (the entry times out after a second) answers with a
// new inode; files open on the old one read the old content to its end.
// The mount raises the kernel's read-ahead to 1 MiB (readahead.go), so
// sequential reads arrive as whole blocks while the reader consumes the
// last ones. Everything else has one-second timeouts.
//
// # Live view
//
// The topic list, manifests and index heads are re-read lazily, on access,
// when older than Options.Refresh; an index is re-read in full only when its
// head changed. A file keeps the index it was opened with, so it never
// changes under its reader. Mounting reads nothing: topics are listed when
// topics/ is read, a manifest when the topic's directory is read.
//
// # Restore by copy
//
// With a Restorer, restore/ is writable: a directory or file made there is
// a copy session (copy.go). Tree files implement NodeCopyFileRanger: a
// copy_file_range into a copy notes the source file and reads nothing. The
// first file of a session whose source is known (from copy_file_range, or
// for read-and-write copies from its checksum, see readLog) decides the
// restore when it is flushed — snapshot or partition, and target — and
// calls Restorer.Start (without holding the copy's lock, so its status
// stays readable); its error is Flush's. Later files start nothing. A copy
// of the latest symlink itself restores what it points to (copy_link.go).
//
// # Who may act
//
// Reading may be shared (AllowOther); acting in restore/ may not: every
// operation that creates, removes or renames there checks the FUSE
// caller's uid and groups (access.go) — root, the mount's owner and
// Options.RestoreUsers/RestoreGroups may; a copy in progress is its
// creator's. Names made in restore/ are validated (restore_names.go) and
// status files are YAML, so a name cannot forge a status field.
package fs
