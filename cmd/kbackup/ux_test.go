package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadOnlyCommandsNeedBackup: a mistyped storage path is not an empty
// backup. Commands that read storage create nothing and fail with one line
// naming the path, both for a missing directory and for one that holds no
// kbackup layout (except mount, which shows topics as they appear and only
// warns about an empty storage).
func TestReadOnlyCommandsNeedBackup(t *testing.T) {
	t.Setenv("KBACKUP_STORAGE", "")
	mp := t.TempDir()
	cmds := [][]string{
		{"verify"},
		{"describe"},
		{"snapshot", "list", "--all"},
		{"index", "show", "orders"},
		{"mount", mp},
		{"restore", "--brokers", "127.0.0.1:1", "--topic", "orders"},
	}
	for _, cmd := range cmds {
		t.Run(strings.Join(cmd[:1], " "), func(t *testing.T) {
			base := t.TempDir()
			missing := filepath.Join(base, "typo2")
			empty := filepath.Join(base, "empty")
			if err := os.MkdirAll(filepath.Join(empty, "notatopic"), 0o755); err != nil {
				t.Fatal(err)
			}
			dirs := []string{missing, empty}
			if cmd[0] == "mount" {
				dirs = dirs[:1]
			}
			for _, dir := range dirs {
				args := withStorage(cmd, dir)
				out, errOut, code := run(t, args...)
				if code != exitFailure {
					t.Errorf("%v: exit %d, want %d; stdout %q stderr %q", args, code, exitFailure, out, errOut)
				}
				if lines := strings.Count(errOut, "\n"); lines != 1 || !strings.Contains(errOut, dir) || !strings.Contains(errOut, "no kbackup backup") {
					t.Errorf("%v: stderr %q: want one line naming %s", args, errOut, dir)
				}
			}
			if _, err := os.Stat(missing); !os.IsNotExist(err) {
				t.Errorf("%v created %s (%v)", cmd, missing, err)
			}
		})
	}
}

// withStorage returns cmd with "--storage DIR" right after the command
// words.
func withStorage(cmd []string, dir string) []string {
	i := 1
	if cmd[0] == "snapshot" || cmd[0] == "index" {
		i = 2
	}
	out := append([]string{}, cmd[:i]...)
	out = append(out, "--storage", dir)
	return append(out, cmd[i:]...)
}
