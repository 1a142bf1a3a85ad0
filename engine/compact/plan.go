package compact

import "github.com/kbackup/kbackup/store"

// run is entries[from:to] of an index, to be merged into one segment.
type run struct{ from, to int }

// plan returns the runs of es (an index's entries, by partition and start
// offset) worth merging: adjacent segments of one partition, each
// unexpired and under half of target stored bytes, together at most
// target. With fanout < 2 a run is every such sequence of two or more.
// Otherwise a run is also no more than 1/fanout its largest segment
// (balanced), and the longest balanced run from each position is taken:
// a merge then makes the segment holding each of its bytes at least
// fanout times larger, so no byte is rewritten more than
// log_fanout(target / its first segment's size) times, whatever the sizes.
func plan(es []store.SegmentEntry, target int64, fanout int) []run {
	small := func(e *store.SegmentEntry) bool { return e.Expires == nil && e.StoredBytes < target/2 }
	var runs []run
	for i := 0; i < len(es); {
		if !small(&es[i]) {
			i++
			continue
		}
		size, largest, best := es[i].StoredBytes, es[i].StoredBytes, 0
		for j := i + 1; j < len(es) && es[j].Partition == es[i].Partition && es[j].StartOffset == es[j-1].NextOffset &&
			small(&es[j]) && size+es[j].StoredBytes <= target; j++ {
			size += es[j].StoredBytes
			largest = max(largest, es[j].StoredBytes)
			if fanout < 2 || largest*int64(fanout) <= size {
				best = j + 1
			}
		}
		if best == 0 {
			i++
			continue
		}
		runs = append(runs, run{i, best})
		i = best
	}
	return runs
}

// resplice returns cur (the index's entries now) with each run, given as
// its segments' IDs in order, replaced by its merged segment, and the IDs
// of the replaced segments. A run whose segments are no longer all in cur,
// adjacent, in order and unexpired (retention expired some meanwhile) is
// left as it is; its merged segment's ID is returned in unused.
func resplice(cur []store.SegmentEntry, runs [][]string, merged []store.SegmentEntry) (out []store.SegmentEntry, replaced, unused []string) {
	at := make(map[string]int, len(cur))
	for i := range cur {
		at[cur[i].ULID] = i
	}
	start := map[int]int{} // cur position of a kept run's first segment -> run
	for k, ids := range runs {
		i, ok := at[ids[0]]
		for n, id := range ids {
			ok = ok && i+n < len(cur) && cur[i+n].ULID == id && cur[i+n].Expires == nil
		}
		if !ok {
			unused = append(unused, merged[k].ULID)
			continue
		}
		start[i] = k
	}
	out = make([]store.SegmentEntry, 0, len(cur))
	for i := 0; i < len(cur); {
		k, ok := start[i]
		if !ok {
			out = append(out, cur[i])
			i++
			continue
		}
		out = append(out, merged[k])
		replaced = append(replaced, runs[k]...)
		i += len(runs[k])
	}
	return out, replaced, unused
}
