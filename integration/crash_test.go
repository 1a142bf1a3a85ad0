package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceUntil writes records round-robin into topic's partitions until ctx
// is done, and reports how many it wrote.
func produceUntil(ctx context.Context, t *testing.T, addr, topic string, partitions int32, wg *sync.WaitGroup, n *int) {
	cl := client(t, addr, kgo.ProducerLinger(5*time.Millisecond))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			batch := make([]*kgo.Record, 0, 50)
			for j := 0; j < 50; j++ {
				seq := i*50 + j
				batch = append(batch, &kgo.Record{Topic: topic, Partition: int32(seq) % partitions,
					Key: []byte(fmt.Sprintf("k%d", seq)), Value: []byte(fmt.Sprintf("record %d", seq)),
					Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(fmt.Sprint(seq))}}})
			}
			if err := cl.ProduceSync(context.Background(), batch...).FirstErr(); err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			*n += len(batch)
			time.Sleep(10 * time.Millisecond)
		}
	}()
}

// TestDaemonSurvivesKill9 is acceptance 3: the daemon is killed with
// SIGKILL at 20 random moments while records flow; afterwards storage holds
// every record exactly once with continuous offsets.
func TestDaemonSurvivesKill9(t *testing.T) {
	needKcat(t)
	c := startCluster(t)
	createTopic(t, c.Addr(), "crash", 3, nil)
	dir := t.TempDir()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var produced int
	produceUntil(ctx, t, c.Addr(), "crash", 3, &wg, &produced)

	for i := 0; i < 20; i++ {
		cmd, logs := startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir, "--topic", "crash",
			"--segment-age", "150ms", "--segment-bytes", "32KiB", "--discovery-interval", "300ms", "--log-level", "debug")
		time.Sleep(time.Duration(100+rand.IntN(900)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("run %d ended by itself before the kill (exit %d):\n%s", i, cmd.ProcessState.ExitCode(), logs)
		}
	}
	stop()
	wg.Wait()
	before := 0
	for _, rs := range storageRead(t, dir, "crash", 0) {
		before += len(rs)
	}
	if before == 0 {
		t.Fatal("the killed daemons stored nothing: the test proves nothing")
	}
	// A last, clean run catches up with everything produced.
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--topic", "crash"); r.code != 0 {
		t.Fatalf("final run exit %d: %s", r.code, r.stderr)
	}
	want := kcatRead(t, c.Addr(), "crash")
	n := 0
	for _, rs := range want {
		n += len(rs)
	}
	if n != produced {
		t.Fatalf("kcat reads %d records, producer wrote %d", n, produced)
	}
	sameRecords(t, "crash", want, storageRead(t, dir, "crash", 0))
	t.Logf("%d records (%d stored by the killed daemons) survived 20 SIGKILLs intact", n, before)
}
