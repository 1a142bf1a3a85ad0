package restore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestResumeAfterInflightProduce interrupts a restore while one of its
// produce requests is on its way to the broker and not yet appended, and
// reruns at once. The interrupted run must not return before the broker
// answered that request: otherwise the rerun reads the target's end before
// the request lands, resumes from there and writes the request's records a
// second time (TestRestoreResume once ended with 20,258 records of 20,000).
func TestResumeAfterInflightProduce(t *testing.T) {
	e := newEnv(t)
	e.createTopic("src", 1, nil)
	var recs []*kgo.Record
	for i := 0; i < 3000; i++ {
		recs = append(recs, &kgo.Record{Topic: "src", Key: []byte(fmt.Sprint("k", i)),
			Value: []byte(fmt.Sprintf("value %d %0200d", i, i)), Timestamp: base.Add(time.Duration(i) * time.Millisecond)})
	}
	e.produce(recs...)
	e.backup("src")
	src := e.readAll("src")
	// Small batches: the restore needs many produce requests.
	e.createTopic("dst", 1, map[string]string{"max.message.bytes": "16384"})

	// Every produce request from here on is the restore's. The third is held until the test releases it
	// (or 1 s passed); the restore is cancelled while it is held.
	k := e.kc.Kfake()
	var produces atomic.Int32
	var heldPID atomic.Int64
	held, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	k.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		k.KeepControl()
		pid := producerID(req.(*kmsg.ProduceRequest))
		switch n := produces.Add(1); {
		case n == 3:
			heldPID.Store(pid)
			close(held)
			k.SleepControl(func() {
				select {
				case <-release:
				case <-time.After(time.Second):
				}
			})
		case n > 3 && pid != heldPID.Load():
			// The rerun's first produce lets the held request land.
			releaseOnce.Do(func() { close(release) })
		}
		return nil, nil, false
	})

	ctx, cancel := context.WithCancel(e.ctx)
	go func() {
		<-held
		cancel()
	}()
	if _, err := Run(ctx, e.st, e.kcfg, mapping("src", "dst"), Options{}); err == nil {
		t.Fatalf("the restore finished although a produce request was held (%d produce requests)", produces.Load())
	}
	cancel()
	res, err := Run(e.ctx, e.st, e.kcfg, mapping("src", "dst"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := e.readAll("dst")
	if len(got[0]) != len(src[0]) {
		t.Fatalf("target holds %d records for %d restored (rerun resumed after %d)", len(got[0]), len(src[0]), res.Topics[0].Partitions[0].Resumed)
	}
	compare(t, "dst", src[0], got[0])
}

// producerID returns the producer ID of the first batch in req, or -1.
func producerID(req *kmsg.ProduceRequest) int64 {
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			var b kmsg.RecordBatch
			if err := b.ReadFrom(p.Records); err == nil {
				return b.ProducerID
			}
		}
	}
	return -1
}
