package compact

import "github.com/kbackup/kbackup/store"

// run is entries[from:to] of an index, to be merged into one segment.
type run struct{ from, to int }

// plan returns the runs of es (an index's entries, by partition and start
// offset) worth merging: two or more adjacent segments of one partition,
// each unexpired and under half of target stored bytes, together at most
// target.
func plan(es []store.SegmentEntry, target int64) []run {
	small := func(e *store.SegmentEntry) bool { return e.Expires == nil && e.StoredBytes < target/2 }
	var runs []run
	for i := 0; i < len(es); {
		if !small(&es[i]) {
			i++
			continue
		}
		j, size := i+1, es[i].StoredBytes
		for j < len(es) && es[j].Partition == es[i].Partition && es[j].StartOffset == es[j-1].NextOffset &&
			small(&es[j]) && size+es[j].StoredBytes <= target {
			size += es[j].StoredBytes
			j++
		}
		if j-i >= 2 {
			runs = append(runs, run{i, j})
		}
		i = j
	}
	return runs
}

// splice returns es with each run replaced by its merged entry, and the
// IDs of the replaced segments.
func splice(es []store.SegmentEntry, runs []run, merged []store.SegmentEntry) (out []store.SegmentEntry, replaced []string) {
	out = make([]store.SegmentEntry, 0, len(es))
	next := 0
	for i, r := range runs {
		out = append(out, es[next:r.from]...)
		out = append(out, merged[i])
		for k := r.from; k < r.to; k++ {
			replaced = append(replaced, es[k].ULID)
		}
		next = r.to
	}
	return append(out, es[next:]...), replaced
}
