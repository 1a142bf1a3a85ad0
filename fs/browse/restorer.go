package browse

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/kbackup/kbackup/store"
)

// Restorer runs the restores requested through restore/. The tree calls
// it; a nil Restorer makes restore/ read-only, holding only a README that
// says why (no --brokers were given).
//
// Restore by copy (cp -r of a snapshot or partition into the mount's
// restore/, a WebDAV COPY into restore/NAME, a spec file copied in) is
// built on this seam: the adapter turns what was copied into a
// RestoreRequest (CopyRequest) and calls Start. Start returns errors
// matching ErrInvalidRestore or ErrRestoreExists for those cases.
type Restorer interface {
	// Start begins the restore req and returns once it is accepted; the
	// restore runs in the background and is known as req.Name. An error
	// means nothing was started (a preflight failure, for instance).
	Start(ctx context.Context, req RestoreRequest) error
	// List returns the names of the restores known, running or finished.
	List(ctx context.Context) ([]string, error)
	// Status returns the status of restore name, which the tree renders
	// as restore/<name>/status (RestoreStatus.Render). It returns an
	// error matching store.ErrNotFound for an unknown name.
	Status(ctx context.Context, name string) (*RestoreStatus, error)
	// Cancel stops a running restore, or forgets a finished one. It may be
	// called more than once.
	Cancel(ctx context.Context, name string) error
}

// RestoreRequest is one restore asked for through restore/.
type RestoreRequest struct {
	// Name is the entry under restore/ that shows the restore.
	Name string
	// Source is the snapshot copied.
	Source store.Loc
	// Partitions limits the restore to these partitions; nil means all.
	Partitions []int32
	// Target is the topic to restore into.
	Target string
	// Spec, when set, is a restore spec in the `kbackup restore -f` format
	// that was copied into restore/; it replaces the fields above.
	Spec []byte
	// Invalid, when set, is a copy that cannot be restored and why (what
	// to copy instead). Start records the name with status Invalid and
	// this reason, and returns an error matching ErrInvalidRestore.
	Invalid string
	// UID and GID are the user who asked (for logs and audit); the mount
	// checked that this user may restore.
	UID, GID uint32
}

// ReadOnlyREADME is restore/README when the tree has no Restorer.
const ReadOnlyREADME = `This directory is read-only.

Restoring by copy (cp -r MOUNTPOINT/topics/T/snapshots/vN MOUNTPOINT/restore/)
needs a Kafka cluster to restore into: mount again with --brokers.
Until then, use "kbackup restore" or read the records under topics/.
`

// CopyRequest is the restore that copying directory src of the tree into
// restore/name asks for: a snapshot directory restores the snapshot, a
// partition directory that partition, into the topic name. A copy that
// keeps the source's name (cp -r …/snapshots/vN restore/, so name is
// "vN"; keepName) restores into the source's own topic, and so does a
// copy named LatestName (cp -r …/T/latest/ restore/). A path through
// latest/ must be resolved first (Tree.Resolve). Anything else is a
// request whose Invalid says what to copy instead. This is the one rule
// for every adapter.
func CopyRequest(name string, src Path, keepName bool) RestoreRequest {
	req := RestoreRequest{Name: name}
	switch {
	case src.Kind == KindSnapshot && !src.Latest:
		req.Source = src.Loc()
	case src.Kind == KindPartition && !src.Latest:
		req.Source, req.Partitions = src.Loc(), []int32{src.Partition}
	default:
		req.Invalid = fmt.Sprintf("restore/%s is a copy of %s, not of one snapshot or one partition: a copy restores one snapshot "+
			"into one target, so nothing was restored. Copy one snapshot instead: cp -r MOUNTPOINT/topics/%s/snapshots/vN MOUNTPOINT/restore/ "+
			"(or one partition: cp -r MOUNTPOINT/topics/%s/snapshots/vN/P MOUNTPOINT/restore/X)", name, src, topicOr(src), topicOr(src))
		return req
	}
	req.Target = name
	if keepName && name == src.Base() || name == LatestName {
		// cp -r …/vN restore/: into the topic itself; so is a copy named
		// latest (cp -r …/T/latest/ restore/, resolved to vN): no topic
		// is ever named after the link.
		req.Target = src.Topic
	}
	return req
}

// CopiedFrom returns the directory of the tree a copy into restore/ was
// made from, given one file of it: srcDir is the directory of that file in
// the tree, relDir its directory relative to the copy ("" for the copy's
// top). It is srcDir minus relDir; false when the names do not line up (a
// directory renamed on the way: this file cannot tell) or what remains is
// not a directory of the tree.
func CopiedFrom(srcDir, relDir string) (Path, bool) {
	root := srcDir
	if relDir != "" && relDir != "." {
		r, ok := strings.CutSuffix(root, "/"+relDir)
		if !ok {
			return Path{}, false
		}
		root = r
	}
	p, err := Parse(root)
	if err != nil {
		return Path{}, false
	}
	return p, true
}

// CopyPhase is where a restore by copy stands before the Restorer knows it.
type CopyPhase int

// The phases of a copy, in order.
const (
	CopyWaiting  CopyPhase = iota // no file identified the copy yet
	CopyStarting                  // Restorer.Start is running
	CopyStarted                   // the Restorer accepted the restore
	CopyRejected                  // invalid, or the Restorer refused it
)

// PendingStatus is restore/NAME/status while the Restorer does not know
// the restore: waiting for a file (hint says what to copy), starting, or
// refused for reason. Both adapters render it this way.
func PendingStatus(name string, phase CopyPhase, reason, hint string) []byte {
	st := RestoreStatus{Name: name}
	switch phase {
	case CopyRejected:
		st.Phase, st.Reason = "Failed", reason
	case CopyStarting, CopyStarted:
		st.Phase = "Initializing"
	default:
		st.Phase = "Ready"
		st.Reason = "waiting for a file copied from a snapshot (" + hint + ")"
	}
	return st.Render()
}

func topicOr(p Path) string {
	if p.Topic == "" {
		return "T"
	}
	return p.Topic
}

// statRestore stats restore/NAME and restore/NAME/status.
func (t *Tree) statRestore(ctx context.Context, p Path) (Entry, error) {
	if t.restorer == nil {
		if p.Kind == KindRestore && p.Name == ReadmeName {
			return t.text(p, []byte(ReadOnlyREADME)), nil
		}
		return Entry{}, store.ErrNotFound
	}
	b, err := t.restoreStatus(ctx, p.Name)
	if err != nil {
		return Entry{}, err
	}
	if p.Kind == KindRestore {
		return t.dir(p, t.started), nil
	}
	return t.text(p, b), nil
}

// restoreStatus returns the text of restore/NAME/status.
func (t *Tree) restoreStatus(ctx context.Context, name string) ([]byte, error) {
	if t.restorer == nil {
		return nil, store.ErrNotFound
	}
	s, err := t.restorer.Status(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.Render(), nil
}

// listRestores lists restore/: README without a Restorer, else the
// restores the Restorer knows.
func (t *Tree) listRestores(ctx context.Context) ([]Entry, error) {
	if t.restorer == nil {
		return []Entry{t.text(RestorePath(ReadmeName), []byte(ReadOnlyREADME))}, nil
	}
	names, err := t.restorer.List(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	es := make([]Entry, 0, len(names))
	for _, n := range names {
		if ValidRestoreName(n) != nil {
			continue // cannot be a path of the tree
		}
		es = append(es, t.dir(RestorePath(n), t.started))
	}
	return es, nil
}

// Start hands req to the Restorer, or fails with ErrNoRestorer.
func (t *Tree) Start(ctx context.Context, req RestoreRequest) error {
	if t.restorer == nil {
		return ErrNoRestorer
	}
	return t.restorer.Start(ctx, req)
}

// Cancel cancels or forgets restore name, or fails with ErrNoRestorer.
func (t *Tree) Cancel(ctx context.Context, name string) error {
	if t.restorer == nil {
		return ErrNoRestorer
	}
	return t.restorer.Cancel(ctx, name)
}
