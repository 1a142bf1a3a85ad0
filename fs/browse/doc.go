// Package browse is the model of kbackup's browse tree, shared by the FUSE
// mount (package fs) and the WebDAV server (package fs/webdav): what
// storage holds, as paths, entries and files, without any FUSE or HTTP.
//
//	topics/<topic>/manifest                      the topic's manifest (YAML)
//	topics/<topic>/latest -> snapshots/v<N>      the active snapshot
//	topics/<topic>/snapshots/v<N>/snapshot.yaml  summary of the snapshot
//	topics/<topic>/snapshots/v<N>/index          the full index (YAML)
//	topics/<topic>/snapshots/v<N>/<p>/records.jsonl
//	topics/<topic>/snapshots/v<N>/<p>/segments/<first>-<last>.jsonl
//	topics/<topic>/snapshots/v<N>/groups/<group>.jsonl  a consumer group's offsets
//	restore/<name>/status                        a restore's status
//
// Path is the grammar of that tree: Parse and Path.String are inverse, and
// Parse refuses every path the tree cannot hold (.., empty elements, long
// names, numbers spelled otherwise). Tree answers Stat, List and Open for
// paths, with exact sizes (decoded byte counts from the index; nothing is
// decoded to learn a size), record times and stored bytes; Summary is a
// snapshot's totals. CopyRequest is the one rule that turns a copy of a
// tree directory into restore/ into a restore.
//
// The catalog behind Tree re-reads the topic list, manifests and index
// heads lazily, on access, when older than Options.Refresh; an index is
// re-read in full only when its head changed. An open File keeps the
// index it was opened with, so it never changes under its reader. A read
// at any offset finds its segment by cumulative size, opens only that
// segment's footer and decodes only the block that holds the offset; each
// open file keeps its last decoded block.
package browse
