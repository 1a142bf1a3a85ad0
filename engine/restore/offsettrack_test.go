package restore

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestOffsetMapSurvivesResume interrupts restores mid-produce and resumes
// them: with the saved state, with the saved maps cut short (as a kill
// leaves them: saved before the last acknowledgements; extended from the
// plan) and with the state file removed (rebuilt from the plan). All end
// with the map of an uninterrupted restore of the same snapshot.
func TestOffsetMapSurvivesResume(t *testing.T) {
	e := newEnv(t)
	e.createTopic("src", 3, nil)
	var recs []*kgo.Record
	for i := 0; i < 3000; i++ {
		recs = append(recs, &kgo.Record{Topic: "src", Partition: int32(i % 3), Key: []byte(fmt.Sprint("k", i)),
			Value: []byte(fmt.Sprintf("value %d %0200d", i, i)), Timestamp: base.Add(time.Duration(i) * time.Millisecond)})
		if i == 1500 { // a gap in the source offsets
			e.produce(recs...)
			recs = nil
			e.abortedTxn("src", 30)
		}
	}
	e.produce(recs...)
	e.backup("src")
	id, err := kafkaClusterID(e)
	if err != nil {
		t.Fatal(err)
	}
	stateDir, lockDir := t.TempDir(), t.TempDir()
	if _, err := e.restore(mapping("src", "ref"), Options{StateDir: stateDir, LockDir: lockDir}); err != nil {
		t.Fatal(err)
	}
	ref, err := LoadState(stateDir, id, "ref")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ref.OffsetMaps()
	if len(want) != 3 || want[0].Records() == 0 {
		t.Fatalf("reference map %v", want)
	}
	e.slowProduce(20 * time.Millisecond)
	for _, tc := range []struct {
		target           string
		dropState, trunc bool
	}{{"kept", false, false}, {"behind", false, true}, {"rebuilt", true, false}} {
		// Small batches, so that progress comes in small steps.
		e.createTopic(tc.target, 3, map[string]string{"max.message.bytes": "4096", "retention.ms": "-1"})
		spec := mapping("src", tc.target)
		interrupted := false
		for run := 0; run < 30; run++ {
			ctx, cancel := context.WithCancel(e.ctx)
			_, err := Run(ctx, e.st, e.kcfg, spec, Options{StateDir: stateDir, LockDir: lockDir, StatusInterval: time.Millisecond,
				OnStatus: func(s Status) {
					for _, ts := range s.Topics {
						var produced int64
						for _, p := range ts.Partitions {
							produced += p.Records - p.Resumed
						}
						if produced >= 700 {
							cancel()
						}
					}
				}})
			cancel()
			if err == nil {
				break
			}
			interrupted = true
			// Produce requests the interrupted run had sent land just
			// after it returns (docs/restore.md, "One restore per
			// target"): rerun once the target is still.
			e.waitStill(tc.target)
			if tc.dropState {
				if err := os.Remove(statePath(stateDir, id, tc.target)); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
			if tc.trunc {
				truncateSaved(t, stateDir, id, tc.target, 7)
			}
		}
		if !interrupted {
			t.Fatalf("%s: the restore was never interrupted", tc.target)
		}
		got, err := LoadState(stateDir, id, tc.target)
		if err != nil {
			t.Fatal(err)
		}
		maps, _ := got.OffsetMaps()
		if !reflect.DeepEqual(maps, want) {
			for p := range want {
				t.Logf("partition %d: got %+v want %+v", p, maps[p], want[p])
			}
			t.Fatalf("%s: the map after resumes differs from the uninterrupted one", tc.target)
		}
	}
}

// abortedTxn writes n records over topic's 3 partitions in a transaction
// and aborts it.
func (e *env) abortedTxn(topic string, n int) {
	e.t.Helper()
	tx, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.TransactionalID("abort-"+topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: []byte("aborted"), Timestamp: base}
		if err := tx.ProduceSync(e.ctx, r).FirstErr(); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := tx.EndTransaction(e.ctx, kgo.TryAbort); err != nil {
		e.t.Fatal(err)
	}
}

// truncateSaved forgets the last n records of every saved partition map of
// target, as if they were acknowledged after the state was saved.
func truncateSaved(t *testing.T, dir, cluster, target string, n int64) {
	t.Helper()
	st, err := LoadState(dir, cluster, target)
	if err != nil {
		t.Fatal(err)
	}
	maps, _ := st.OffsetMaps()
	for _, m := range maps {
		for drop := n; drop > 0 && len(m.Ranges) > 0; {
			last := &m.Ranges[len(m.Ranges)-1]
			d := min(drop, last.Len)
			last.Len -= d
			m.End -= d
			drop -= d
			if last.Len == 0 {
				m.Ranges = m.Ranges[:len(m.Ranges)-1]
			}
		}
	}
	st.Maps = EncodeOffsetMaps(maps)
	if err := SaveState(dir, st); err != nil {
		t.Fatal(err)
	}
}

// waitStill waits until topic's end offsets stop moving for half a second.
func (e *env) waitStill(topic string) {
	e.t.Helper()
	last, since := int64(-1), time.Now()
	for time.Since(since) < 500*time.Millisecond {
		if n := e.endOffsets(topic); n != last {
			last, since = n, time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
}
