package restore

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// A restore holds an exclusive lock on each target topic for its whole run,
// taken before preflight looks at the target: two restores into one target
// (a cp -r of v1 and of v1/0 into the mount's restore/, or the CLI beside
// the mount) would both see it empty and both produce. The lock is an
// flock(2) on a file named for the target cluster's ID and the topic in a
// directory shared by every kbackup process on the machine
// (Options.LockDir). The kernel releases it when its holder exits,
// however it exits, and a paused holder keeps it, so there is no expiry
// and nothing to fence. Runs started on different machines into the
// same target are not serialised (docs/restore.md, "One restore per
// target").

// DefaultLockDir is where restores lock their targets when
// Options.LockDir is empty.
func DefaultLockDir() string { return filepath.Join(os.TempDir(), "kbackup-restore-locks") }

// targetLock is a held lock on one target topic.
type targetLock struct {
	f *os.File
}

// lockTargets locks every target of the restore, in name order, or none:
// a target locked by another restore fails with ErrTargetBusy.
func (r *restorer) lockTargets(ctx context.Context) error {
	cluster, err := r.adm.ClusterID(ctx)
	if err != nil {
		return err
	}
	dir := r.opts.LockDir
	if dir == "" {
		dir = DefaultLockDir()
	}
	var targets []string
	for _, j := range r.jobs {
		targets = append(targets, j.m.TargetName())
	}
	slices.Sort(targets)
	targets = slices.Compact(targets) // a chain's legs share their target
	for _, t := range targets {
		l, err := lockTarget(dir, cluster, t)
		if err != nil {
			r.unlockTargets()
			return err
		}
		r.locks = append(r.locks, l)
	}
	return nil
}

func (r *restorer) unlockTargets() {
	for _, l := range r.locks {
		l.f.Close() // closing the only descriptor releases the flock
	}
	r.locks = nil
}

// lockTarget takes the lock of topic on cluster in dir without waiting.
func lockTarget(dir, cluster, topic string) (*targetLock, error) {
	if err := lockDir(dir); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(cluster + "\x00" + topic))
	path := filepath.Join(dir, topic+"."+hex.EncodeToString(sum[:8])+".lock")
	// Nothing is ever written to the file: opened read-only, a lock file
	// another user created works, and a planted symlink is refused.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock restore target %s: %w", topic, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := ""
			if pid := flockHolder(f); pid > 0 {
				holder = fmt.Sprintf(" by pid %d", pid)
				if pid == os.Getpid() {
					holder += " (this process)"
				}
			}
			return nil, fmt.Errorf("%w: %w: topic %s: another restore into it is running (%s is locked%s): "+
				"two restores into one target would duplicate records; wait for it to finish, or cancel it (rm -r MOUNTPOINT/restore/NAME, or stop that kbackup restore)",
				ErrPreflight, ErrTargetBusy, topic, path, holder)
		}
		return nil, fmt.Errorf("lock restore target %s: %w", topic, err)
	}
	return &targetLock{f: f}, nil
}

// lockDir makes dir, shared by every user like /tmp (sticky, world
// writable), and refuses a symlink in its place.
func lockDir(dir string) error {
	fi, err := os.Lstat(dir)
	if os.IsNotExist(err) {
		if err := os.MkdirAll(dir, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("restore lock directory: %w", err)
		}
		if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
			return fmt.Errorf("restore lock directory: %w", err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("restore lock directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("restore lock directory %s is not a directory (a symlink?): remove it", dir)
	}
	return nil
}

// flockHolder returns the pid holding a flock on f, from /proc/locks, or 0.
func flockHolder(f *os.File) int {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return 0
	}
	pl, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer pl.Close()
	suffix := ":" + strconv.FormatUint(st.Ino, 10)
	sc := bufio.NewScanner(pl)
	for sc.Scan() {
		// 1: FLOCK  ADVISORY  WRITE 1234 00:2b:5678 0 EOF
		fs := strings.Fields(sc.Text())
		if len(fs) >= 6 && fs[1] == "FLOCK" && strings.HasSuffix(fs[5], suffix) {
			pid, _ := strconv.Atoi(fs[4])
			return pid
		}
	}
	return 0
}
