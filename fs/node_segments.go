package fs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kbackup/kbackup/store"
)

// segmentsNode is <p>/segments/: one <first>-<last>.jsonl per segment,
// listed from the index in memory.
type segmentsNode struct {
	gofs.Inode
	readOnly
	partRef
}

var (
	_ gofs.NodeLookuper  = (*segmentsNode)(nil)
	_ gofs.NodeReaddirer = (*segmentsNode)(nil)
	_ gofs.NodeGetattrer = (*segmentsNode)(nil)
)

// segmentName is a segment file's name; offsets are zero-padded to 20
// digits so that names sort by offset.
func segmentName(e *store.SegmentEntry) string {
	return fmt.Sprintf("%020d-%020d.jsonl", e.FirstOffset, e.LastOffset)
}

// parseSegmentName is the inverse of segmentName.
func parseSegmentName(name string) (first, last int64, ok bool) {
	a, b, ok := strings.Cut(strings.TrimSuffix(name, ".jsonl"), "-")
	if !ok || len(a) != 20 || len(b) != 20 || !strings.HasSuffix(name, ".jsonl") {
		return 0, 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	return first, last, err1 == nil && err2 == nil && first >= 0
}

// Getattr describes segments/.
func (n *segmentsNode) Getattr(ctx context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return getattr(ctx, n, out)
}

// Lookup finds a segment by its offsets with a binary search of the index.
func (n *segmentsNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	first, last, ok := parseSegmentName(name)
	if !ok {
		return nil, syscall.ENOENT
	}
	v, err := n.m.cat.partition(ctx, n.loc, n.p)
	if err != nil {
		return nil, n.m.errno("read index of "+n.loc.String(), err)
	}
	es := v.entries
	i := sort.Search(len(es), func(i int) bool { return es[i].FirstOffset >= first })
	if i == len(es) || es[i].FirstOffset != first || es[i].LastOffset != last {
		return nil, syscall.ENOENT
	}
	e := es[i]
	return child(ctx, &n.Inode, name, fuse.S_IFREG, func() attrNode { return &segmentNode{m: n.m, loc: n.loc, e: e} }, out)
}

// Readdir lists the segments.
func (n *segmentsNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	v, err := n.m.cat.partition(ctx, n.loc, n.p)
	if err != nil {
		return nil, n.m.errno("read index of "+n.loc.String(), err)
	}
	es := v.entries
	ds := make([]fuse.DirEntry, len(es))
	for i := range es {
		ds[i] = fuse.DirEntry{Name: segmentName(&es[i]), Mode: fuse.S_IFREG}
	}
	return dirStream(ds)
}
