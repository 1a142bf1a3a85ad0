package restore

import (
	"os"
	"testing"
)

// TestMain keeps the restores' state files (DefaultStateDir) out of the
// home directory of whoever runs the tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kbackup-restore-test-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_STATE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
