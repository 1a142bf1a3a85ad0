package compact

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

// seg is an index entry of partition p holding offsets [start, next).
func seg(id string, p int32, start, next, stored int64) store.SegmentEntry {
	return store.SegmentEntry{ULID: id, Partition: p, StartOffset: start, NextOffset: next, StoredBytes: stored}
}

func TestPlan(t *testing.T) {
	past := time.Unix(1, 0)
	expired := seg("x", 0, 2, 3, 10)
	expired.Expires = &past
	for _, tc := range []struct {
		name   string
		es     []store.SegmentEntry
		fanout int
		want   []run
	}{
		{"greedy merges every adjacent run", []store.SegmentEntry{
			seg("a", 0, 0, 1, 10), seg("b", 0, 1, 2, 10), seg("c", 0, 2, 3, 10)}, 0, []run{{0, 3}}},
		{"not across a gap in offsets", []store.SegmentEntry{
			seg("a", 0, 0, 1, 10), seg("b", 0, 2, 3, 10), seg("c", 0, 3, 4, 10)}, 0, []run{{1, 3}}},
		{"not across partitions", []store.SegmentEntry{
			seg("a", 0, 0, 1, 10), seg("b", 1, 1, 2, 10)}, 0, nil},
		{"not expired ones", []store.SegmentEntry{
			seg("a", 0, 0, 1, 10), seg("b", 0, 1, 2, 10), expired, seg("c", 0, 3, 4, 10)}, 0, []run{{0, 2}}},
		{"not large ones", []store.SegmentEntry{
			seg("a", 0, 0, 1, 10), seg("b", 0, 1, 2, 50), seg("c", 0, 2, 3, 10)}, 0, nil},
		{"not beyond the target", []store.SegmentEntry{
			seg("a", 0, 0, 1, 40), seg("b", 0, 1, 2, 40), seg("c", 0, 2, 3, 40)}, 0, []run{{0, 2}}},
		{"balanced waits for fanout segments", []store.SegmentEntry{
			seg("a", 0, 0, 1, 10), seg("b", 0, 1, 2, 10), seg("c", 0, 2, 3, 10)}, 4, nil},
		{"balanced takes the longest run", []store.SegmentEntry{
			seg("a", 0, 0, 1, 10), seg("b", 0, 1, 2, 10), seg("c", 0, 2, 3, 10), seg("d", 0, 3, 4, 10), seg("e", 0, 4, 5, 10)}, 4, []run{{0, 5}}},
		{"balanced leaves a dominant segment out", []store.SegmentEntry{
			seg("m", 0, 0, 1, 40), seg("a", 0, 1, 2, 10), seg("b", 0, 2, 3, 10), seg("c", 0, 3, 4, 10), seg("d", 0, 4, 5, 10)}, 4, []run{{1, 5}}},
		{"balanced across sizes that straddle a power of two", []store.SegmentEntry{
			seg("a", 0, 0, 1, 9), seg("b", 0, 1, 2, 11), seg("c", 0, 2, 3, 9), seg("d", 0, 3, 4, 11), seg("e", 0, 4, 5, 9)}, 4, []run{{0, 5}}},
		{"balanced stops before a large segment after the run", []store.SegmentEntry{
			seg("a", 0, 0, 1, 5), seg("b", 0, 1, 2, 5), seg("c", 0, 2, 3, 5), seg("d", 0, 3, 4, 5), seg("m", 0, 4, 5, 45)}, 4, []run{{0, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := plan(tc.es, 100, tc.fanout); !slices.Equal(got, tc.want) {
				t.Fatalf("plan = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestResplice(t *testing.T) {
	past := time.Unix(1, 0)
	cur := []store.SegmentEntry{seg("a", 0, 0, 1, 1), seg("b", 0, 1, 2, 1), seg("c", 0, 2, 3, 1), seg("d", 0, 3, 4, 1),
		seg("e", 0, 4, 5, 1), seg("f", 0, 5, 6, 1) /* committed after the plan */}
	cur[2].Expires = &past // expired after the plan
	merged := []store.SegmentEntry{seg("ab", 0, 0, 2, 2), seg("cd", 0, 2, 4, 2), seg("ez", 0, 4, 6, 2)}
	out, replaced, unused := resplice(cur, [][]string{{"a", "b"}, {"c", "d"}, {"e", "z"}}, merged)
	var ids []string
	for _, e := range out {
		ids = append(ids, e.ULID)
	}
	if want := []string{"ab", "c", "d", "e", "f"}; !slices.Equal(ids, want) {
		t.Errorf("entries %v, want %v", ids, want)
	}
	if want := []string{"a", "b"}; !slices.Equal(replaced, want) {
		t.Errorf("replaced %v, want %v", replaced, want)
	}
	if want := []string{"cd", "ez"}; !slices.Equal(unused, want) {
		t.Errorf("unused %v, want %v", unused, want)
	}
}

// TestBalancedYear runs the daemon's policy over a year of one partition
// rolled every minute, compacting hourly: it must end in under 1,000
// objects (issue 13) while rewriting each byte a few times, where merging
// every run at every pass rewrites the growing merged segment each hour.
func TestBalancedYear(t *testing.T) {
	const (
		minutes = 365 * 24 * 60
		stored  = 2 << 10 // a quiet partition: 1-3 KiB per minute
		target  = 64 << 20
	)
	for _, tc := range []struct {
		fanout int
		// amp checks how often each byte was rewritten: a few times
		// balanced; with every run merged at every pass, so often that
		// the daemon must not do it (the reason Fanout exists).
		amp func(float64) bool
	}{{4, func(a float64) bool { return a <= 8 }}, {8, func(a float64) bool { return a <= 6 }}, {0, func(a float64) bool { return a > 50 }}} {
		t.Run(fmt.Sprintf("fanout=%d", tc.fanout), func(t *testing.T) {
			var es []store.SegmentEntry
			var written, ingested int64
			id := 0
			rng := rand.New(rand.NewPCG(1, 2))
			for m := 0; m < minutes; m++ {
				id++
				size := int64(stored/2 + rng.IntN(stored)) // quiet traffic varies
				ingested += size
				es = append(es, seg(fmt.Sprint(id), 0, int64(m), int64(m+1), size))
				if m%60 != 59 {
					continue
				}
				runs := plan(es, target, tc.fanout)
				var ids [][]string
				var merged []store.SegmentEntry
				for _, r := range runs {
					var size int64
					var rid []string
					for _, e := range es[r.from:r.to] {
						size += e.StoredBytes
						rid = append(rid, e.ULID)
					}
					id++
					ids, merged = append(ids, rid), append(merged, seg(fmt.Sprint(id), 0, es[r.from].StartOffset, es[r.to-1].NextOffset, size))
					written += size
				}
				es, _, _ = resplice(es, ids, merged)
			}
			amp := float64(written) / float64(ingested)
			t.Logf("fanout %d: %d objects after a year, each byte rewritten %.1f times", tc.fanout, len(es), amp)
			if len(es) >= 1000 {
				t.Errorf("%d objects after a year, want < 1000", len(es))
			}
			if !tc.amp(amp) {
				t.Errorf("each byte rewritten %.1f times", amp)
			}
		})
	}
}
