package fs

import (
	"fmt"
	"sync/atomic"
)

// stats counts what the mount served and what it read from storage, for
// tests and curious users (getfattr -n user.kbackup.stats MOUNTPOINT). The
// storage counters make laziness observable: mounting and listing topics/
// read no manifest, tail of records.jsonl decodes a block or two.
type stats struct {
	read   atomic.Int64 // bytes returned by read(2) of tree files
	copied atomic.Int64 // bytes "copied" by copy_file_range into restore/

	manifests atomic.Int64 // manifests read from storage
	heads     atomic.Int64 // index heads read from storage
	indexes   atomic.Int64 // whole indexes (head and sealed parts) read
	segments  atomic.Int64 // segment footers read (segments opened)
	blocks    atomic.Int64 // blocks read and decoded
}

// text renders the counters one "name value" per line.
func (s *stats) text() string {
	return fmt.Sprintf("read_bytes %d\ncopied_bytes %d\nmanifests_read %d\nindex_heads_read %d\nindexes_read %d\nsegments_opened %d\nblocks_decoded %d\n",
		s.read.Load(), s.copied.Load(), s.manifests.Load(), s.heads.Load(), s.indexes.Load(), s.segments.Load(), s.blocks.Load())
}
