package fs

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/kbackup/kbackup/store"
)

// Errors returned by Mount for an unusable mountpoint.
var (
	// ErrMountpoint means the mountpoint is missing, not a directory, not
	// empty or already a mount point.
	ErrMountpoint = errors.New("unusable mountpoint")
	// ErrMountInStorage means the mountpoint is inside the storage
	// directory (file storage), which would show the mount to itself.
	ErrMountInStorage = errors.New("mountpoint is inside the storage directory")
)

// checkMountpoint returns the absolute mountpoint after checking that it is
// an empty directory that is neither mounted on nor inside storageDir.
func checkMountpoint(mountpoint, storageDir string) (string, error) {
	abs, err := filepath.Abs(mountpoint)
	if err != nil {
		return "", fmt.Errorf("%w %s: %w", ErrMountpoint, mountpoint, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%w %s: %w", ErrMountpoint, abs, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%w %s: not a directory", ErrMountpoint, abs)
	}
	if mounted(abs) {
		return "", fmt.Errorf("%w %s: something is already mounted there (busy)", ErrMountpoint, abs)
	}
	des, err := os.ReadDir(abs)
	if err != nil {
		return "", fmt.Errorf("%w %s: %w", ErrMountpoint, abs, err)
	}
	if len(des) > 0 {
		return "", fmt.Errorf("%w %s: directory is not empty (it holds %s); mount on an empty directory", ErrMountpoint, abs, des[0].Name())
	}
	if storageDir != "" {
		real, err1 := filepath.EvalSymlinks(abs)
		sdir, err2 := filepath.EvalSymlinks(storageDir)
		if err1 == nil && err2 == nil && within(real, sdir) {
			return "", fmt.Errorf("%w: %s is inside the storage directory %s; choose a mountpoint outside it", ErrMountInStorage, abs, sdir)
		}
	}
	return abs, nil
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// mounted reports whether dir is a mount point, from /proc/self/mountinfo.
func mounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == dir {
			return true
		}
	}
	return false
}

func unescapeMountinfo(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// storageDir returns the local directory of file storage, or "" for other
// storage. store.Store keeps it unexported, so it is derived from the
// store's URL the way store.Open interprets it (bare path or file:// URL,
// with an optional prefix).
func storageDir(st *store.Store) string {
	raw := st.URL()
	if !strings.Contains(raw, "://") {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return ""
		}
		return abs
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" {
		return ""
	}
	dir := filepath.FromSlash(u.Path)
	if p := u.Query().Get("prefix"); p != "" {
		dir = filepath.Join(dir, filepath.FromSlash(p))
	}
	return dir
}
