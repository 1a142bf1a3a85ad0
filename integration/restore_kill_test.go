package integration

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestoreSurvivesKill9 is the restore issue's acceptance 4: the restore
// binary is SIGKILLed midway, rerun with the same arguments, and the target
// then holds every record exactly once.
func TestRestoreSurvivesKill9(t *testing.T) {
	needKcat(t)
	c := startCluster(t)
	createTopic(t, c.Addr(), "src", 3, nil)
	cl := client(t, c.Addr(), kgo.ProducerBatchMaxBytes(1<<20))
	ctx := context.Background()
	var batch []*kgo.Record
	for i := 0; i < 300000; i++ {
		batch = append(batch, &kgo.Record{Topic: "src", Partition: int32(i % 3), Key: []byte(fmt.Sprintf("k%d", i)),
			Value:   []byte(fmt.Sprintf("value %d with some padding to make it a little longer", i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i % 10))}}, Timestamp: time.UnixMilli(1700000000000 + int64(i))})
		if len(batch) == 10000 {
			if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir); r.code != 0 {
		t.Fatalf("backup: %s", r.stderr)
	}
	createTopic(t, c.Addr(), "dst", 3, nil)
	adm := kadm.NewClient(cl)
	args := []string{"restore", "--brokers", c.Addr(), "--storage", dir, "--topic", "src:dst", "--retention", "extend"}
	restored := func() int64 {
		ends, err := adm.ListEndOffsets(ctx, "dst")
		if err != nil {
			return -1
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	// Kill the first run as soon as records arrive, the second a little
	// later; the second may also finish first on a fast machine.
	var killedAt int64
	for attempt := 0; attempt < 2; attempt++ {
		cmd, logs := startKbackup(t, args...)
		deadline := time.Now().Add(60 * time.Second)
		for n := restored(); n <= killedAt+1000*int64(attempt); n = restored() {
			if time.Now().After(deadline) {
				t.Fatalf("restore made no progress: %s", logs)
			}
			time.Sleep(2 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		n := restored()
		if attempt == 0 && n >= 300000 {
			t.Fatalf("the restore finished before it could be killed: make the dataset larger")
		}
		killedAt = n
	}
	if r := kbackup(t, args...); r.code != 0 {
		t.Fatalf("rerun exit %d: %s", r.code, r.stderr)
	}
	sameRecords(t, "dst after two SIGKILLs and a rerun", kcatRead(t, c.Addr(), "src"), kcatRead(t, c.Addr(), "dst"))
	t.Logf("killed twice (last at %d of 300000 records); target matches the source exactly", killedAt)
}
