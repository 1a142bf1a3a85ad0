package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/engine/backup"
)

// TestAutoMaxMemory checks the default bound: three quarters of a cgroup
// v2 or v1 limit, never below the minimum, and 1 GiB without a limit.
func TestAutoMaxMemory(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		name  string
		files []string
		want  int64
	}{
		{"cgroup v2 limit", []string{file("v2", "2147483648\n")}, 1536 << 20},
		{"cgroup v2 without limit, v1 limit", []string{file("v2max", "max\n"), file("v1", "1073741824\n")}, 768 << 20},
		{"cgroup v1 unlimited", []string{missing, file("v1max", "9223372036854771712\n")}, backup.DefaultMaxMemory},
		{"small limit", []string{file("small", "67108864")}, backup.MinMaxMemory},
		{"no cgroup files", []string{missing}, backup.DefaultMaxMemory},
	} {
		if got := autoMaxMemory(c.files); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// TestMaxMemoryTooSmall: a bound below the minimum is a usage error
// naming the flag's value, before anything connects.
func TestMaxMemoryTooSmall(t *testing.T) {
	for _, size := range []string{"64MiB", "lots"} {
		_, errOut, code := run(t, "backup", "--brokers", "127.0.0.1:1", "--storage", t.TempDir(), "--max-memory", size)
		if code != exitUsage || !strings.Contains(errOut, size) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("--max-memory %s: exit %d, want %d: %q", size, code, exitUsage, errOut)
		}
	}
}
