package restore

import (
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestForeignWriteFailsTheRestore: a record another producer appends to
// the target while the restore runs makes the restore fail with
// ErrTargetChanged instead of reporting Done over a target that is not
// the backup's copy.
func TestForeignWriteFailsTheRestore(t *testing.T) {
	e := newEnv(t)
	e.seedDataset("src")
	e.backup("src")
	e.createTopic("dst", 3, map[string]string{"max.message.bytes": "4194304"})
	// Restoring is reported before the first record is produced: the
	// foreign record lands after preflight read the target's ends.
	var once sync.Once
	var perr error
	res, err := e.restore(mapping("src", "dst"), Options{StatusInterval: time.Hour, OnStatus: func(s Status) {
		if s.Phase == Restoring {
			once.Do(func() {
				perr = e.cl.ProduceSync(e.ctx, &kgo.Record{Topic: "dst", Partition: 1, Value: []byte("not from the backup")}).FirstErr()
			})
		}
	}})
	if perr != nil {
		t.Fatal(perr)
	}
	errContains(t, err, ErrTargetChanged, "topic dst", "partition 1", "another producer")
	if res.Phase != Failed || res.Topics[0].Phase != Failed {
		t.Fatalf("phase %s, topic %s", res.Phase, res.Topics[0].Phase)
	}
}
