package main

import (
	"os"
	"testing"
)

// TestMain keeps the state files of the restores the tests run
// (--state-dir, KBACKUP_STATE_DIR) out of the home directory of whoever
// runs them.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kbackup-cmd-test-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("KBACKUP_STATE_DIR", dir)
	os.Setenv("XDG_STATE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
