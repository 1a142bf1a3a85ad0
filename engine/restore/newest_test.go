package restore

import (
	"testing"

	"github.com/kbackup/kbackup/engine/inspect"
)

// TestRestoreDefaultSkipsEmptyActive: right after snapshot create, the
// active version holds nothing; a restore that names no snapshot restores
// the newest version with records, and one naming latest gets the empty one.
func TestRestoreDefaultSkipsEmptyActive(t *testing.T) {
	e, _ := knownEnv(t)
	if _, err := inspect.CreateSnapshot(e.ctx, e.st, "orders", inspect.CreateSnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := e.restore(mapping("orders", "copy-default"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ts := res.Topics[0]; ts.Snapshot != 2 || ts.Records == 0 {
		t.Fatalf("restore without a snapshot took v%d with %d records; want v2, the newest with records", ts.Snapshot, ts.Records)
	}
}
