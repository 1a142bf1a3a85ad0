package restore

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestoreChain restores three versions of a recreated topic as one
// chain (v1..v3) into one target: every record of every version once, in
// version order; a rerun produces nothing; a target holding any prefix of
// the chain (inside a version, at a version's end) is completed exactly; a
// target holding more than the chain plans fails "target empty".
func TestRestoreChain(t *testing.T) {
	e := newEnv(t)
	gen := func(tag string, n int) {
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Topic: "t", Partition: int32(i % 2), Key: []byte(tag), Value: []byte(fmt.Sprint(i)),
				Timestamp: base.Add(time.Duration(i) * time.Second)})
		}
		// A client per version: the topic is recreated in between.
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.ProduceSync(e.ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range []struct {
		tag string
		n   int
	}{{"one", 40}, {"two", 10}, {"three", 20}} {
		if i > 0 {
			if _, err := e.adm.DeleteTopic(e.ctx, "t"); err != nil {
				t.Fatal(err)
			}
		}
		e.createTopic("t", 2, nil)
		gen(v.tag, v.n)
		e.backup("t")
	}
	// What each version holds, restored alone.
	want := map[int32][]rec{}
	for v := 1; v <= 3; v++ {
		spec := mapping("t", fmt.Sprint("alone-", v))
		spec.Spec.Config.Topics[0].Snapshot = &SnapshotRef{Version: SnapshotAt(v)}
		if _, err := e.restore(spec, Options{}); err != nil {
			t.Fatal(err)
		}
		for p, rs := range e.readAll(fmt.Sprint("alone-", v)) {
			want[p] = append(want[p], rs...)
		}
	}
	chain := func(dst string) *Spec {
		spec := mapping("t", dst)
		spec.Spec.Config.Topics[0].Snapshot = &SnapshotRef{Version: "v1..v3"}
		return spec
	}
	check := func(dst string) {
		t.Helper()
		got := e.readAll(dst)
		for p := int32(0); p < 2; p++ {
			compare(t, fmt.Sprintf("%s partition %d", dst, p), want[p], got[p])
		}
	}

	res, err := e.restore(chain("all"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	check("all")
	if res.Produced != 70 || len(res.Topics) != 3 || res.Topics[0].Snapshot != 1 || res.Topics[2].Snapshot != 3 {
		t.Fatalf("produced %d, status %+v", res.Produced, res.Status)
	}
	if res, err = e.restore(chain("all"), Options{}); err != nil || res.Produced != 0 {
		t.Fatalf("rerun: %v, produced %d", err, res.Produced)
	}
	check("all")

	// "all" is the chain of every version.
	every := mapping("t", "every")
	every.Spec.Config.Topics[0].Snapshot = &SnapshotRef{Version: allVersions}
	if res, err = e.restore(every, Options{}); err != nil || res.Produced != 70 || len(res.Topics) != 3 {
		t.Fatalf("all: %v, produced %d, %d versions", err, res.Produced, len(res.Topics))
	}
	check("every")

	// Prefixes a killed chain leaves: inside v2 and inside v1; at the end
	// of v2 and empty.
	for _, tc := range []struct {
		dst    string
		prefix map[int32]int
	}{
		{"inside", map[int32]int{0: 20 + 3, 1: 7}},
		{"boundary", map[int32]int{0: 20 + 5, 1: 0}},
		{"last", map[int32]int{0: 20 + 5 + 9, 1: 20 + 5 + 10}},
	} {
		e.createTopic(tc.dst, 2, nil)
		for p, n := range tc.prefix {
			produceCopies(t, e, tc.dst, p, want[p][:n])
		}
		res, err := e.restore(chain(tc.dst), Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.dst, err)
		}
		if n := int64(tc.prefix[0] + tc.prefix[1]); res.Produced != 70-n {
			t.Fatalf("%s: produced %d after a prefix of %d, want %d", tc.dst, res.Produced, n, 70-n)
		}
		check(tc.dst)
	}

	// One record more than the chain plans is not the chain's.
	e.createTopic("more", 2, nil)
	produceCopies(t, e, "more", 0, append(append([]rec{}, want[0]...), want[0][0]))
	_, err = e.restore(chain("more"), Options{})
	errContains(t, err, ErrTargetNotEmpty, "topic more: target empty", "partition 0")
}

// produceCopies writes copies of rs into partition p of topic, as a
// restore writes them.
func produceCopies(t *testing.T, e *env, topic string, p int32, rs []rec) {
	t.Helper()
	var krs []*kgo.Record
	for _, r := range rs {
		kr := &kgo.Record{Topic: topic, Partition: p, Timestamp: time.UnixMilli(r.TS)}
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
		krs = append(krs, kr)
	}
	e.produce(krs...)
}

func TestChainSpec(t *testing.T) {
	for in, want := range map[string]string{"1..3": "v1..v3", "v2..v4": "v2..v4", " v1..2 ": "v1..v2", "all": "all"} {
		if got, err := NormalizeSnapshot(in); err != nil || got != want {
			t.Errorf("NormalizeSnapshot(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"v3..v1", "v2..v2", "v0..v2", "v1..", "..v2", "v1..vx", "v1..v2000000000"} {
		if _, err := NormalizeSnapshot(in); err == nil {
			t.Errorf("NormalizeSnapshot(%q) accepted", in)
		}
	}
	spec := mapping("t", "dst")
	from := int64(5)
	spec.Spec.Config.Topics[0].Snapshot = &SnapshotRef{Version: "v1..v2"}
	spec.Spec.Config.Topics[0].Partitions = []PartitionRange{{Number: 0, RestoreFromOffset: &from}}
	errContains(t, spec.Validate(), ErrInvalidSpec, "offset ranges cannot be combined with a chain")
}
