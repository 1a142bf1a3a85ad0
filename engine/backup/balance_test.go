package backup

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kbackup/kbackup/kafka"
)

// topicsN returns n topics t00… with the given partition count.
func topicsN(n int, parts int32) map[string]int32 {
	w := map[string]int32{}
	for i := range n {
		w[fmt.Sprintf("t%02d", i)] = parts
	}
	return w
}

// withTopic adds topic t with parts partitions to w.
func withTopic(w map[string]int32, t string, parts int32) map[string]int32 {
	w[t] = parts
	return w
}

// loads sums the partitions each member was given.
func loads(plan map[string][]string, work map[string]int32) map[string]int32 {
	l := map[string]int32{}
	for m, ts := range plan {
		for _, t := range ts {
			l[m] += work[t]
		}
	}
	return l
}

// checkPlan fails unless no topic goes to two members, no member is given
// a topic another member holds, and every topic is given to someone or
// held by a member losing it in this round.
func checkPlan(t *testing.T, members []kafka.GroupMember, work map[string]int32, plan map[string][]string) {
	t.Helper()
	given := map[string]string{}
	for m, ts := range plan {
		for _, tp := range ts {
			if o, ok := given[tp]; ok {
				t.Fatalf("topic %s given to %s and %s", tp, o, m)
			}
			given[tp] = m
		}
	}
	for _, m := range members {
		for _, tp := range m.Owned {
			if g, ok := given[tp]; ok && g != m.ID && !claims(members, g, tp) {
				t.Fatalf("topic %s held by %s given to %s in the same round", tp, m.ID, g)
			}
		}
	}
	for tp := range work {
		if _, ok := given[tp]; ok {
			continue
		}
		held := false
		for _, m := range members {
			held = held || slices.Contains(m.Owned, tp)
		}
		if !held {
			t.Fatalf("topic %s is neither given nor held", tp)
		}
	}
}

func TestBalance(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []kafka.GroupMember
		work    map[string]int32
		// want: partitions per member after the round; moved: topics
		// taken from their holders this round.
		want  map[string]int32
		moved int
	}{
		{"fresh group of 3", []kafka.GroupMember{{ID: "a"}, {ID: "b"}, {ID: "c"}}, topicsN(12, 2),
			map[string]int32{"a": 8, "b": 8, "c": 8}, 0},
		{"a 4th joins: 3 topics leave, nothing given yet", []kafka.GroupMember{
			{ID: "a", Owned: []string{"t00", "t01", "t02", "t03"}, Generation: 1},
			{ID: "b", Owned: []string{"t04", "t05", "t06", "t07"}, Generation: 1},
			{ID: "c", Owned: []string{"t08", "t09", "t10", "t11"}, Generation: 1},
			{ID: "d"}}, topicsN(12, 1),
			map[string]int32{"a": 3, "b": 3, "c": 3, "d": 0}, 3},
		{"a member left: its topics go at once", []kafka.GroupMember{
			{ID: "a", Owned: []string{"t00", "t01", "t02", "t03"}, Generation: 1},
			{ID: "b", Owned: []string{"t04", "t05", "t06", "t07"}, Generation: 1}}, topicsN(12, 1),
			map[string]int32{"a": 6, "b": 6}, 0},
		{"balanced: sticky, nothing moves", []kafka.GroupMember{
			{ID: "a", Owned: []string{"t00", "t02"}, Generation: 3},
			{ID: "b", Owned: []string{"t01", "t03"}, Generation: 3}}, topicsN(4, 5),
			map[string]int32{"a": 10, "b": 10}, 0},
		{"weighted by partitions", []kafka.GroupMember{{ID: "a"}, {ID: "b"}},
			map[string]int32{"big": 12, "m1": 4, "m2": 4, "m3": 4},
			map[string]int32{"a": 12, "b": 12}, 0},
		{"weighted by traffic: the holder of a hot topic gets no more", []kafka.GroupMember{
			{ID: "a", Owned: []string{"hot"}, Generation: 1, Rates: map[string]int64{"hot": 20 << 20}}, {ID: "b"}},
			withTopic(topicsN(10, 2), "hot", 2),
			map[string]int32{"a": 2, "b": 20}, 0},
		{"weighted by traffic: quiet topics leave the hot holder", []kafka.GroupMember{
			{ID: "a", Owned: []string{"hot", "t00", "t01"}, Generation: 1, Rates: map[string]int64{"hot": 10 << 20, "t00": 1000}},
			{ID: "b", Owned: []string{"t02", "t03"}, Generation: 1}},
			withTopic(topicsN(4, 2), "hot", 2),
			map[string]int32{"a": 2, "b": 4}, 2},
		{"two claims: the newer generation wins", []kafka.GroupMember{
			{ID: "a", Owned: []string{"t00"}, Generation: 1},
			{ID: "b", Owned: []string{"t00"}, Generation: 2}}, topicsN(2, 1),
			map[string]int32{"a": 1, "b": 1}, 1},
		{"deleted topics are dropped", []kafka.GroupMember{
			{ID: "a", Owned: []string{"gone", "t00"}, Generation: 1}}, topicsN(1, 1),
			map[string]int32{"a": 1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := balance(tc.members, tc.work)
			checkPlan(t, tc.members, tc.work, plan)
			got := loads(plan, tc.work)
			for m, w := range tc.want {
				if got[m] != w {
					t.Errorf("member %s: %d partitions, want %d (plan %v)", m, got[m], w, plan)
				}
			}
			moved := 0
			for _, m := range tc.members {
				moved += len(without(m.Owned, plan[m.ID]))
			}
			if gone := tc.name == "deleted topics are dropped"; !gone && moved != tc.moved {
				t.Errorf("%d topics taken from their holders, want %d (plan %v)", moved, tc.moved, plan)
			}
		})
	}
}

// TestBalanceConverges plays rounds the way members do (a member that lost
// topics rejoins without them) and checks the group settles, balanced,
// within two rounds of a change.
func TestBalanceConverges(t *testing.T) {
	work := topicsN(40, 3)
	owned := map[string][]string{}
	round := func(ids ...string) int {
		rounds := 0
		for {
			rounds++
			var ms []kafka.GroupMember
			for _, id := range ids {
				ms = append(ms, kafka.GroupMember{ID: id, Owned: owned[id], Generation: int32(rounds)})
			}
			plan := balance(ms, work)
			checkPlan(t, ms, work, plan)
			changed := false
			owned = map[string][]string{}
			for _, id := range ids {
				changed = changed || len(without(ms[slices.IndexFunc(ms, func(m kafka.GroupMember) bool { return m.ID == id })].Owned, plan[id])) > 0
				owned[id] = plan[id]
			}
			if !changed {
				return rounds
			}
		}
	}
	for _, step := range [][]string{{"a", "b", "c"}, {"a", "b", "c", "d"}, {"a", "c", "d"}, {"c", "d"}, {"c", "d", "e", "f", "g"}} {
		if r := round(step...); r > 2 {
			t.Errorf("members %v: %d rounds to settle, want at most 2", step, r)
		}
		l := loads(owned, work)
		lo, hi := int32(1<<30), int32(0)
		for _, id := range step {
			lo, hi = min(lo, l[id]), max(hi, l[id])
		}
		if hi-lo > 3 {
			t.Errorf("members %v: loads %v spread by more than one topic", step, l)
		}
		n := 0
		for _, ts := range owned {
			n += len(ts)
		}
		if n != len(work) {
			t.Errorf("members %v: %d topics owned, want %d", step, n, len(work))
		}
	}
}

func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// claims reports whether member id holds topic.
func claims(members []kafka.GroupMember, id, topic string) bool {
	for _, m := range members {
		if m.ID == id {
			return slices.Contains(m.Owned, topic)
		}
	}
	return false
}

// TestSampleRates: a held topic's rate is the smoothed payload bytes per
// second between discoveries; a topic no longer held has none.
func TestSampleRates(t *testing.T) {
	b := &backup{topics: map[string]*topicRun{}, group: &groupState{}}
	hot, quiet := &topicRun{}, &topicRun{}
	b.topics["hot"], b.topics["quiet"] = hot, quiet
	t0 := time.Unix(1000, 0)
	b.sampleRates(t0)
	if r := b.group.heldRates(); len(r) != 0 {
		t.Fatalf("rates before a second sample: %v", r)
	}
	hot.payload.Add(4 << 20)
	b.sampleRates(t0.Add(2 * time.Second)) // 2 MiB/s, averaged with no rate yet
	if r := b.group.heldRates(); r["hot"] != 1<<20 || r["quiet"] != 0 {
		t.Fatalf("after 4 MiB in 2 s: %v, want hot 1 MiB/s and quiet absent", r)
	}
	hot.payload.Add(4 << 20)
	b.sampleRates(t0.Add(4 * time.Second))
	if r := b.group.heldRates(); r["hot"] != (1<<20+2<<20)/2 {
		t.Fatalf("after another 4 MiB in 2 s: %v, want hot 1.5 MiB/s", r)
	}
	delete(b.topics, "hot")
	b.sampleRates(t0.Add(6 * time.Second))
	if r := b.group.heldRates(); len(r) != 0 {
		t.Fatalf("after hot was released: %v", r)
	}
}
