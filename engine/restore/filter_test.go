package restore

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func i64(v int64) *int64 { return &v }

func TestRestoreFilters(t *testing.T) {
	e := newEnv(t)
	e.seedDataset("src")
	e.backup("src")
	src := e.kcatRead("src")
	from, until := base.Add(100*time.Second), base.Add(time.Hour+20*time.Second)
	cases := []struct {
		name  string
		cfg   func(c *Config)
		keep  func(p int32, r rec) bool
		parts int
	}{
		{"time window", func(c *Config) {
			c.RestoreFromDateTime, c.RestoreUntilDateTime = from.Format(time.RFC3339), until.Format(time.RFC3339)
		}, func(_ int32, r rec) bool { return r.TS >= from.UnixMilli() && r.TS < until.UnixMilli() }, 3},
		{"until only", func(c *Config) { c.RestoreUntilDateTime = from.Format(time.RFC3339) },
			func(_ int32, r rec) bool { return r.TS < from.UnixMilli() }, 3},
		{"offset ranges", func(c *Config) {
			c.Topics[0].Partitions = []PartitionRange{{Number: 0, RestoreUntilOffset: i64(100)}, {Number: 1, RestoreFromOffset: i64(50), RestoreUntilOffset: i64(215)}, {Number: 2}}
		}, func(p int32, r rec) bool {
			return p == 0 && r.Offset < 100 || p == 1 && r.Offset >= 50 && r.Offset < 215 || p == 2
		}, 3},
		{"one open-ended partition and a window", func(c *Config) {
			c.Topics[0].Partitions = []PartitionRange{{Number: 1, RestoreFromOffset: i64(150)}}
			c.RestoreFromDateTime = from.Format(time.RFC3339)
		}, func(p int32, r rec) bool { return p == 1 && r.Offset >= 150 && r.TS >= from.UnixMilli() }, 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := fmt.Sprintf("dst%d", i)
			spec := mapping("src", dst)
			tc.cfg(&spec.Spec.Config)
			res, err := e.restore(spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Topics[0].Partitions) != tc.parts {
				t.Fatalf("%d partitions planned, want %d", len(res.Topics[0].Partitions), tc.parts)
			}
			var n int64
			got := e.kcatRead(dst)
			for p := int32(0); p < 3; p++ {
				var want []rec
				for _, r := range src[p] {
					if tc.keep(p, r) {
						want = append(want, r)
					}
				}
				n += int64(len(want))
				compare(t, fmt.Sprintf("partition %d", p), want, got[p])
			}
			if n == 0 || res.Produced != n {
				t.Fatalf("produced %d, want %d (> 0)", res.Produced, n)
			}
		})
	}
}

func TestRestoreSnapshotVersions(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 2, nil)
	gen := func(tag string, n int) {
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Topic: "t", Partition: int32(i % 2), Key: []byte(tag), Value: []byte(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Second)})
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.ProduceSync(e.ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	gen("one", 40)
	e.backup("t")
	if _, err := e.adm.DeleteTopic(e.ctx, "t"); err != nil {
		t.Fatal(err)
	}
	e.createTopic("t", 2, nil)
	gen("two", 10)
	e.backup("t")

	for _, tc := range []struct {
		sel  string
		want int
		key  string
	}{{"1", 40, "one"}, {"v1", 40, "one"}, {"v2", 10, "two"}, {"latest", 10, "two"}, {"", 10, "two"}} {
		dst := "r-" + tc.sel
		spec := mapping("t", dst)
		if tc.sel != "" {
			spec.Spec.Config.Topics[0].Snapshot = &SnapshotRef{Version: SnapshotVersion(tc.sel)}
		}
		if _, err := e.restore(spec, Options{}); err != nil {
			t.Fatalf("snapshot %q: %v", tc.sel, err)
		}
		got := e.readAll(dst)
		n := 0
		for _, rs := range got {
			for _, r := range rs {
				if *r.Key != tc.key {
					t.Fatalf("snapshot %q restored key %s", tc.sel, *r.Key)
				}
				n++
			}
		}
		if n != tc.want {
			t.Fatalf("snapshot %q restored %d records, want %d", tc.sel, n, tc.want)
		}
	}
	spec := mapping("t", "r-missing")
	spec.Spec.Config.Topics[0].Snapshot = &SnapshotRef{Version: "v3"}
	_, err := e.restore(spec, Options{})
	errContains(t, err, ErrPreflight, "no snapshot v3", "available: v1, v2")
	if e.topicExists("r-missing") {
		t.Fatal("failed restore created its target")
	}
}
