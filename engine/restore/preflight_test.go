package restore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestRestorePreflightAndInvalid(t *testing.T) {
	e := newEnv(t)
	e.createTopic("src", 2, nil)
	var recs []*kgo.Record
	for i := 0; i < 20; i++ {
		recs = append(recs, &kgo.Record{Topic: "src", Partition: int32(i % 2), Key: []byte(fmt.Sprint(i)), Value: []byte("v"), Timestamp: base})
	}
	e.produce(recs...)
	e.backup("src")
	e.createTopic("three", 3, nil)
	e.createTopic("compacted", 2, map[string]string{"cleanup.policy": "compact"})
	e.createTopic("full", 2, nil)
	e.produce(&kgo.Record{Topic: "full", Partition: 1, Key: []byte("x"), Value: []byte("y")})
	ends := func() map[string]int64 {
		m := map[string]int64{}
		for _, tp := range []string{"three", "compacted", "full"} {
			m[tp] = e.endOffsets(tp)
		}
		return m
	}
	before := ends()

	cases := []struct {
		name     string
		edit     func(c *Config)
		sentinel error
		phase    Phase
		msg      []string
	}{
		{"target missing", func(c *Config) { c.Topics[0].Target, c.CreateTopics = "nope", false }, ErrTargetMissing, Failed,
			[]string{"preflight check failed: topic nope: target exists", "createTopics: true"}},
		{"partition count", func(c *Config) { c.Topics[0].Target = "three" }, ErrPartitionCount, Failed,
			[]string{"topic three: partition count", "3 partitions", "has 2"}},
		{"cleanup policy", func(c *Config) { c.Topics[0].Target = "compacted" }, ErrCleanupPolicy, Failed,
			[]string{"topic compacted: cleanup.policy"}},
		{"not empty", func(c *Config) { c.Topics[0].Target = "full" }, ErrTargetNotEmpty, Failed,
			[]string{"topic full: target empty", "partition 1 holds 1 records", "allowNonEmpty: true"}},
		{"two failures in one message", func(c *Config) {
			c.Topics = append(c.Topics, TopicMapping{Source: "src", Target: "three"})
			c.Topics[0].Target = "full"
		}, ErrPreflight, Failed, []string{"topic full: target empty", "topic three: partition count"}},
		{"missing in storage", func(c *Config) { c.Topics[0].Source = "ghost" }, ErrPreflight, Failed,
			[]string{"ghost", "no backup in storage"}},
		{"unknown partition", func(c *Config) { c.Topics[0].Partitions = []PartitionRange{{Number: 5}} }, ErrInvalidSpec, Invalid,
			[]string{"partition 5 does not exist", "2 partitions"}},
		{"bad time", func(c *Config) { c.RestoreFromDateTime = "yesterday" }, ErrInvalidSpec, Invalid,
			[]string{"restoreFromDateTime", "RFC 3339"}},
		{"empty window", func(c *Config) {
			c.RestoreFromDateTime, c.RestoreUntilDateTime = "2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z"
		}, ErrInvalidSpec, Invalid, []string{"must be after"}},
		{"bad range", func(c *Config) {
			c.Topics[0].Partitions = []PartitionRange{{Number: 0, RestoreFromOffset: i64(10), RestoreUntilOffset: i64(5)}}
		}, ErrInvalidSpec, Invalid, []string{"restoreUntilOffset 5 must be greater than restoreFromOffset 10"}},
		{"no topics", func(c *Config) { c.Topics = nil }, ErrNoTopics, Invalid, []string{"invalid restore spec: no topics"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			created := "created-by-" + strings.ReplaceAll(tc.name, " ", "-")
			spec := mapping("src", created)
			tc.edit(&spec.Spec.Config)
			var phases []Phase
			res, err := e.restore(spec, Options{OnStatus: func(s Status) { phases = append(phases, s.Phase) }})
			errContains(t, err, tc.sentinel, tc.msg...)
			if !errors.Is(err, ErrPreflight) && !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("error %q wraps neither ErrPreflight nor ErrInvalidSpec", err)
			}
			if strings.Contains(err.Error(), "--") {
				t.Fatalf("error %q names a command line flag", err)
			}
			if res.Phase != tc.phase || phases[len(phases)-1] != tc.phase || res.Reason != err.Error() {
				t.Fatalf("phase %s (seen %v), reason %q", res.Phase, phases, res.Reason)
			}
			if e.topicExists(created) {
				t.Fatal("a failed restore created its target")
			}
		})
	}
	if after := ends(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("failed restores produced: %v, before %v", after, before)
	}

	// Disabled checks and --allow-nonempty append to the non-empty target.
	spec := mapping("src", "full")
	spec.Spec.Config.Topics[0].DisablePreflightChecks = true
	if _, err := e.restore(spec, Options{}); err != nil {
		t.Fatal(err)
	}
	spec = mapping("src", "compacted")
	spec.Spec.Config.AllowNonEmpty = true
	if _, err := e.restore(spec, Options{}); err == nil {
		t.Fatal("allow-nonempty skipped the cleanup.policy check")
	}
	if got := e.endOffsets("full"); got != 21 {
		t.Fatalf("full holds %d records, want 21", got)
	}
}

// TestRestoreResume interrupts restores midway and checks that reruns
// restore every record exactly once, by position and by offset header.
func TestRestoreResume(t *testing.T) {
	if testing.Short() {
		t.Skip("restores 60,000 records six times; skipped with -short (make test runs it)")
	}
	e := newEnv(t)
	e.createTopic("big", 3, nil)
	var recs []*kgo.Record
	for i := 0; i < 60000; i++ {
		recs = append(recs, &kgo.Record{Topic: "big", Partition: int32(i % 3), Key: []byte(fmt.Sprint("k", i%1000)),
			Value: []byte(fmt.Sprintf("value %d %0200d", i, i)), Timestamp: base.Add(time.Duration(i) * time.Millisecond)})
	}
	e.produce(recs...)
	e.backup("big")
	src := e.readAll("big")
	e.slowProduce(3 * time.Millisecond)
	for _, hdr := range []string{"", "original-offset"} {
		dst := "big-copy" + hdr
		// Small batches, so that progress comes in small steps.
		e.createTopic(dst, 3, map[string]string{"max.message.bytes": "65536"})
		spec := mapping("big", dst)
		spec.Spec.Config.LegacyOffsetHeader = hdr
		for run := 0; ; run++ {
			ctx, cancel := context.WithCancel(e.ctx)
			// A small producer buffer: an interrupted run sends what it
			// buffered before it stops.
			res, err := Run(ctx, e.st, e.kcfg, spec, Options{bufferBytes: 1 << 20, StatusInterval: time.Millisecond, OnStatus: func(s Status) {
				var produced int64
				for _, t := range s.Topics {
					for _, p := range t.Partitions {
						produced += p.Records - p.Resumed
					}
				}
				if produced >= 15000 {
					cancel()
				}
			}})
			cancel()
			if err == nil {
				if run == 0 {
					t.Fatal("restore finished before it could be interrupted")
				}
				if res.Topics[0].Records != 60000 {
					t.Fatalf("final status counts %d records", res.Topics[0].Records)
				}
				break
			}
			if run > 8 {
				t.Fatalf("run %d: %v", run, err)
			}
			if len(res.Topics) == 0 {
				t.Fatalf("header %q run %d failed before planning: %v", hdr, run, err)
			}
			t.Logf("header %q run %d interrupted after %d records (%d produced): %v", hdr, run, res.Topics[0].Records, res.Produced, err)
		}
		got := e.readAll(dst)
		for p := int32(0); p < 3; p++ {
			if hdr != "" {
				for i := range got[p] {
					got[p][i].Headers = nil
				}
			}
			compare(t, fmt.Sprintf("%s partition %d", dst, p), src[p], got[p])
		}
	}
}

// TestRestoreResumeAfterCrash simulates a restore killed at an arbitrary
// record: the target holds a prefix of the records, as the idempotent
// producer guarantees; the rerun completes it.
func TestRestoreResumeAfterCrash(t *testing.T) {
	e := newEnv(t)
	e.seedDataset("src")
	e.backup("src")
	src := e.readAll("src")
	e.createTopic("dst", 3, map[string]string{"max.message.bytes": "4194304"})
	var prefix []*kgo.Record
	for p, n := range map[int32]int{0: 37, 1: 0, 2: 190} {
		for _, r := range src[p][:n] {
			kr := &kgo.Record{Topic: "dst", Partition: p, Timestamp: time.UnixMilli(r.TS)}
			if r.Key != nil {
				kr.Key = []byte(*r.Key)
			}
			if r.Value != nil {
				kr.Value = []byte(*r.Value)
			}
			for _, h := range r.Headers {
				k, v, _ := cut(h)
				kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: k, Value: v})
			}
			prefix = append(prefix, kr)
		}
	}
	e.produce(prefix...)
	spec := mapping("src", "dst")
	res, err := e.restore(spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Topics[0].Partitions[0].Resumed != 37 || res.Topics[0].Partitions[2].Resumed != 190 {
		t.Fatalf("resumed %+v", res.Topics[0].Partitions)
	}
	got := e.readAll("dst")
	for p := int32(0); p < 3; p++ {
		compare(t, fmt.Sprintf("partition %d", p), src[p], got[p])
	}
}

func cut(h string) (string, []byte, bool) {
	for i := 0; i < len(h); i++ {
		if h[i] == '=' {
			if h[i+1:] == "<null>" {
				return h[:i], nil, true
			}
			return h[:i], []byte(h[i+1:]), true
		}
	}
	return h, nil, false
}
