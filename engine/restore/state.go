package restore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kbackup/kbackup/store"
)

// A restore keeps, on the machine that runs it, a state file per target
// topic of a cluster (Options.StateDir): where the restored records came
// from, the offset maps of its partitions (offsetmap.go) and the consumer
// group offsets it committed and those they replaced (groups.go). The
// records themselves stay the restore's progress (a rerun resumes from
// what the target holds, preflight.go); the maps follow them: a resumed
// restore takes the saved maps when they cover exactly what the target
// holds, and otherwise rebuilds the prefix (the k-th record of the target
// partition is the k-th planned record). The file is replaced atomically
// (write, fsync, rename), so a kill leaves the old or the new one.

// maxStateBytes bounds a state file read back.
const maxStateBytes = 256 << 20

// DefaultStateDir is where restores keep their state when
// Options.StateDir is empty: $XDG_STATE_HOME/kbackup/restore, else
// ~/.local/state/kbackup/restore.
func DefaultStateDir() string {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "kbackup-restore-state")
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "kbackup", "restore")
}

// TargetState is the saved state of the restores into one target topic.
type TargetState struct {
	Cluster string    `json:"cluster"`
	Target  string    `json:"target"`
	Source  store.Loc `json:"source"`
	Updated time.Time `json:"updated"`
	// Maps is the encoded offset map of every planned partition
	// (EncodeOffsetMaps).
	Maps []byte `json:"maps"`
	// Groups are the consumer-group offsets committed on the target.
	Groups *GroupsState `json:"groups,omitempty"`
}

// GroupsState records a commit of translated offsets: what each committed
// offset replaced (Previous, saved before the first commit and kept by
// later ones, so rollback returns to what was there before the restore
// touched the group) and what was committed.
type GroupsState struct {
	Captured  time.Time     `json:"captured"`
	Previous  []GroupCommit `json:"previous"`
	Committed []GroupCommit `json:"committed"`
}

// GroupCommit is one committed offset of a group on a target partition;
// Offset -1 means the group had none.
type GroupCommit struct {
	Group     string `json:"group"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Metadata  string `json:"metadata,omitempty"`
}

// ErrNoState means no restore into the target is known on this machine.
var ErrNoState = errors.New("no restore state")

// statePath names the state file of topic on cluster in dir.
func statePath(dir, cluster, topic string) string {
	sum := sha256.Sum256([]byte(cluster + "\x00" + topic))
	return filepath.Join(dir, topic+"."+hex.EncodeToString(sum[:8])+".json")
}

// LoadState reads the state of the restores into topic on cluster from
// dir; none fails with ErrNoState.
func LoadState(dir, cluster, topic string) (*TargetState, error) {
	if dir == "" {
		dir = DefaultStateDir()
	}
	path := statePath(dir, cluster, topic)
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("%w: no restore into %s on this cluster was run from this machine (no %s)", ErrNoState, topic, path)
	}
	if err != nil {
		return nil, fmt.Errorf("restore state of %s: %w", topic, err)
	}
	defer f.Close()
	var s TargetState
	dec := json.NewDecoder(&limitedReader{f: f, n: maxStateBytes})
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("restore state %s is damaged (%v): remove it; the data restored is not affected", path, err)
	}
	if s.Target != topic || s.Cluster != cluster {
		return nil, fmt.Errorf("restore state %s names %s on cluster %s, not %s on %s: remove it", path, s.Target, s.Cluster, topic, cluster)
	}
	if _, err := DecodeOffsetMaps(s.Maps); err != nil {
		return nil, fmt.Errorf("restore state %s: %w: remove it and rerun the restore to rebuild the map", path, err)
	}
	return &s, nil
}

// SaveState replaces the state of s.Target on s.Cluster in dir atomically.
func SaveState(dir string, s *TargetState) error {
	if dir == "" {
		dir = DefaultStateDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore state directory: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	path := statePath(dir, s.Cluster, s.Target)
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("save restore state of %s: %w", s.Target, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		if d, derr := os.Open(dir); derr == nil {
			err = d.Sync()
			d.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("save restore state of %s: %w", s.Target, err)
	}
	return nil
}

// OffsetMaps decodes the state's offset maps.
func (s *TargetState) OffsetMaps() (map[int32]*PartitionMap, error) {
	return DecodeOffsetMaps(s.Maps)
}

// limitedReader fails a read past n bytes instead of truncating silently.
type limitedReader struct {
	f *os.File
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("more than %d bytes", maxStateBytes)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.f.Read(p)
	l.n -= int64(n)
	return n, err
}
