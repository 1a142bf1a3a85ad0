package fs

import (
	"sync"
	"time"

	"github.com/kbackup/kbackup/store"
)

// linkLog remembers the symlinks of the tree read lately and by which
// process. cp -r MNT/topics/T/latest MNT/restore/X copies the symlink
// itself: cp reads it (Readlink) and makes a symlink in restore/ with the
// same text, "snapshots/vN", which does not say which topic. The same
// process having just read that text from T's latest says it.
type linkLog struct {
	mu     sync.Mutex
	recent []linkRead // oldest first
}

type linkRead struct {
	pid    uint32
	target string
	loc    store.Loc
	at     time.Time
}

const (
	// linkLogSize is how many symlink reads are remembered.
	linkLogSize = 64
	// linkLogAge is how long a read counts.
	linkLogAge = time.Minute
)

// read notes that process pid read target from the symlink of loc. Pid 0
// (a process the kernel cannot name in our pid namespace) is not noted:
// it would match other such processes.
func (l *linkLog) read(pid uint32, target string, loc store.Loc) {
	if pid == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recent = append(l.recent, linkRead{pid: pid, target: target, loc: loc, at: time.Now()})
	if len(l.recent) > linkLogSize {
		l.recent = l.recent[len(l.recent)-linkLogSize:]
	}
}

// find returns the snapshot whose symlink process pid read target from
// last, within linkLogAge.
func (l *linkLog) find(pid uint32, target string) (store.Loc, bool) {
	if pid == 0 {
		return store.Loc{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.recent) - 1; i >= 0; i-- {
		r := l.recent[i]
		if time.Since(r.at) > linkLogAge {
			break
		}
		if r.pid == pid && r.target == target {
			return r.loc, true
		}
	}
	return store.Loc{}, false
}
