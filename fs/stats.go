package fs

import (
	"fmt"
	"sync/atomic"

	"github.com/kbackup/kbackup/fs/browse"
)

// stats counts what the mount served, for tests and curious users
// (cat MOUNTPOINT/.kbackup/stats); the browse model counts what was read
// from storage (browse.Stats).
type stats struct {
	read     atomic.Int64 // bytes returned by read(2) of tree files
	copied   atomic.Int64 // bytes "copied" by copy_file_range into restore/
	getxattr atomic.Int64 // getxattr and listxattr requests (answered ENOSYS)
	listed   atomic.Int64 // directory listings read from the start (not from the kernel's cache)
}

// text renders the counters one "name value" per line.
func (s *stats) text(t *browse.Stats) string {
	return fmt.Sprintf("read_bytes %d\ncopied_bytes %d\nxattr_requests %d\ndirs_listed %d\nmanifests_read %d\nindex_heads_read %d\nindexes_read %d\nsegments_opened %d\nblocks_decoded %d\n",
		s.read.Load(), s.copied.Load(), s.getxattr.Load(), s.listed.Load(), t.Manifests.Load(), t.Heads.Load(), t.Indexes.Load(), t.Segments.Load(), t.Blocks.Load())
}
