package backup

import (
	"sort"

	"github.com/kbackup/kbackup/kafka"
)

// balance divides topics (with their partition counts) among the members
// of a --group-id group. It is sticky and cooperative:
//
//   - a member keeps the topics it holds unless the spread of load (the sum
//     of its topics' weights: partitions, plus one per rateUnit of the
//     bytes per second its holder reported) would shrink by moving one;
//   - a topic nobody holds (new, or held by a member that is gone) goes to
//     the least loaded member at once, largest topics first;
//   - a topic that moves is only taken from its holder in this round; the
//     holder releases it and rejoins, and the next round hands it out as a
//     free topic. So no topic is ever given to two members.
//
// When two members claim a topic, the claim of the newer generation wins
// (ties: the smaller member ID); topics that no longer exist are dropped.
// rateUnit is the traffic that weighs as much as one partition: one MiB
// per second of records. A partition costs its writer a fixed share
// (segment rolls, index commits, requests) whatever its traffic, and
// traffic costs compression CPU whatever the partitions (zstd does about
// 40–100 MB/s per core, docs/scale.md): a topic of 3 partitions carrying
// 20 MiB/s weighs 23, as much as 23 quiet partitions.
const rateUnit = 1 << 20

func balance(members []kafka.GroupMember, work map[string]int32) map[string][]string {
	if len(members) == 0 {
		return nil
	}
	ms := append([]kafka.GroupMember(nil), members...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
	rates := map[string]int64{} // the holders' reports; unknown for free topics
	for _, m := range ms {
		for t, r := range m.Rates {
			rates[t] = max(rates[t], r)
		}
	}
	weight := func(t string) int64 { return max(int64(work[t]), 1) + rates[t]/rateUnit }

	owner := map[string]int{} // topic → index in ms
	for i, m := range ms {
		for _, t := range m.Owned {
			if _, ok := work[t]; !ok {
				continue
			}
			if j, ok := owner[t]; ok && ms[j].Generation >= m.Generation {
				continue
			}
			owner[t] = i
		}
	}
	load := make([]int64, len(ms))
	held := make([]map[string]bool, len(ms))
	for i := range ms {
		held[i] = map[string]bool{}
	}
	for t, i := range owner {
		held[i][t] = true
		load[i] += weight(t)
	}
	least := func() int {
		best := 0
		for i := range load {
			if load[i] < load[best] {
				best = i
			}
		}
		return best
	}

	var free []string
	for t := range work {
		if _, ok := owner[t]; !ok {
			free = append(free, t)
		}
	}
	sort.Slice(free, func(i, j int) bool {
		if wi, wj := weight(free[i]), weight(free[j]); wi != wj {
			return wi > wj
		}
		return free[i] < free[j]
	})
	for _, t := range free {
		i := least()
		held[i][t] = true
		load[i] += weight(t)
	}

	// Moves: take a topic from the most loaded member while that narrows
	// the spread; its future owner is charged now, so that the moves of
	// one round add up, but receives it next round.
	for range len(work) {
		hi, lo := 0, least()
		for i := range load {
			if load[i] > load[hi] {
				hi = i
			}
		}
		gap := load[hi] - load[lo]
		var pick string
		for t := range held[hi] {
			w := weight(t)
			if w < gap && (pick == "" || w > weight(pick) || w == weight(pick) && t < pick) {
				pick = t
			}
		}
		if pick == "" {
			break
		}
		delete(held[hi], pick)
		load[hi] -= weight(pick)
		load[lo] += weight(pick)
		if _, was := owner[pick]; !was {
			held[lo][pick] = true // free this round: no holder to wait for
		}
	}

	out := make(map[string][]string, len(ms))
	for i, m := range ms {
		ts := make([]string, 0, len(held[i]))
		for t := range held[i] {
			ts = append(ts, t)
		}
		sort.Strings(ts)
		out[m.ID] = ts
	}
	return out
}
