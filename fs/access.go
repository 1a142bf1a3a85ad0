package fs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// # Who may act in restore/
//
// Reading is shared: with --allow-other every user may list the tree and
// read status files. Acting is not: creating, removing and renaming in
// restore/ starts and cancels restores on a Kafka cluster with the mount's
// credentials. The kernel does not check modes on a FUSE mount without
// default_permissions, so every modifying operation in restore/ checks the
// caller's uid and gids (from the FUSE request) here: root, the mount's
// owner, and the users and groups of Options.RestoreUsers and
// RestoreGroups may act in restore/; inside a copy in progress only the
// user who started it (and root) may. Access(2) answers the same, and the
// ownership and modes shown say the same where modes can.

// access is the policy of restore/.
type access struct {
	uid, gid uint32 // the mount's owner
	users    []uint32
	groups   []uint32
}

func newAccess(opts Options) access {
	return access{uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), users: opts.RestoreUsers, groups: opts.RestoreGroups}
}

// dirOwner is the owner, group and mode restore/ shows: writable by its
// owner, and by its group when RestoreGroups names one.
func (a access) dirOwner() (uid, gid, mode uint32) {
	if len(a.groups) > 0 {
		return a.uid, a.groups[0], 0o775
	}
	return a.uid, a.gid, 0o755
}

// caller returns the user of a FUSE request; ok is false outside one.
func caller(ctx context.Context) (*fuse.Caller, bool) {
	return fuse.FromContext(ctx)
}

// mayRestore reports whether the caller of ctx may start or cancel
// restores.
func (a access) mayRestore(ctx context.Context) bool {
	c, ok := caller(ctx)
	if !ok {
		return false
	}
	if c.Uid == 0 || c.Uid == a.uid || slices.Contains(a.users, c.Uid) {
		return true
	}
	if len(a.groups) == 0 {
		return false
	}
	if slices.Contains(a.groups, c.Gid) {
		return true
	}
	for _, g := range supplementaryGroups(c.Pid) {
		if slices.Contains(a.groups, g) {
			return true
		}
	}
	return false
}

// mayTouch reports whether the caller of ctx may change copy session s:
// the user who started it, or root.
func (a access) mayTouch(ctx context.Context, s *copySession) bool {
	c, ok := caller(ctx)
	return ok && (c.Uid == 0 || c.Uid == s.uid)
}

// check returns 0 when allowed, else logs the refusal and returns EACCES.
func (m *mountFS) check(ctx context.Context, allowed bool, op, name string) syscall.Errno {
	if allowed {
		return 0
	}
	c, _ := caller(ctx)
	if c == nil {
		c = &fuse.Caller{}
	}
	m.log.Warn("restore/: permission denied", "op", op, "name", name, "uid", c.Uid, "gid", c.Gid, "pid", c.Pid)
	return syscall.EACCES
}

// accessMask answers access(2) for a node whose writers are decided by
// mayWrite; reading and searching are allowed to everyone.
func accessMask(mask uint32, mayWrite bool) syscall.Errno {
	const wOK = 2
	if mask&wOK != 0 && !mayWrite {
		return syscall.EACCES
	}
	return 0
}

// supplementaryGroups returns the groups of process pid from
// /proc/<pid>/status (none when it cannot be read, for instance for a
// process in another pid namespace).
func supplementaryGroups(pid uint32) []uint32 {
	if pid == 0 {
		return nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		var gs []uint32
		for _, f := range strings.Fields(rest) {
			if g, err := strconv.ParseUint(f, 10, 32); err == nil {
				gs = append(gs, uint32(g))
			}
		}
		return gs
	}
	return nil
}
