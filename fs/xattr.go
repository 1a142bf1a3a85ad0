package fs

import (
	"github.com/hanwen/go-fuse/v2/fuse"
)

// noXattrRead wraps the node file system so that getxattr and listxattr
// answer ENOSYS. Linux then sets no_getxattr (no_listxattr) for the
// mount and answers every later call itself with EOPNOTSUPP, without a
// FUSE round trip: GNU ls -l asks two attributes per file, and over a
// partition of 100,000 segments that was most of the listing time.
// go-fuse's own answer for a node without Getxattr is ENOATTR, which the
// kernel does not remember. setxattr and removexattr still reach the nodes:
// the tree refuses them (EROFS) and copies in restore/ accept them (cp -a).
type noXattrRead struct {
	fuse.RawFileSystem
	st *stats
}

// GetXAttr counts the call and answers ENOSYS.
func (f noXattrRead) GetXAttr(<-chan struct{}, *fuse.InHeader, string, []byte) (uint32, fuse.Status) {
	f.st.getxattr.Add(1)
	return 0, fuse.ENOSYS
}

// ListXAttr counts the call and answers ENOSYS.
func (f noXattrRead) ListXAttr(<-chan struct{}, *fuse.InHeader, []byte) (uint32, fuse.Status) {
	f.st.getxattr.Add(1)
	return 0, fuse.ENOSYS
}
