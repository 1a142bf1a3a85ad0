package restore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// OffsetRange maps Len consecutive source offsets from Src to as many
// consecutive target offsets from Dst.
type OffsetRange struct {
	Src int64 `json:"src"`
	Dst int64 `json:"dst"`
	Len int64 `json:"len"`
}

// PartitionMap maps the source offsets of one partition's restored records
// to the offsets they got in the target partition. It is a list of ranges,
// broken wherever either side is not consecutive (compacted or filtered
// source records, aborted transactions and markers that the backup never
// held, a target that skipped offsets): its size grows with the gaps, not
// with the records.
//
// The zero value is an empty map whose target End is 0.
type PartitionMap struct {
	// Ranges are in increasing source and target order, never adjacent on
	// both sides (Add merges those).
	Ranges []OffsetRange `json:"ranges,omitempty"`
	// End is the target offset after the last restored record: the
	// target's end once the restore finished, or where it began when it
	// restored nothing.
	End int64 `json:"end"`
}

// errOffsetOrder is returned by Add for a record that does not come after
// the last one on both sides.
var errOffsetOrder = errors.New("offsets out of order")

// Add records that source offset src was restored at target offset dst.
// Records must be added in increasing order on both sides.
func (m *PartitionMap) Add(src, dst int64) error {
	if src < 0 || dst < 0 || dst < m.End {
		return fmt.Errorf("%w: source %d at target %d, target end %d", errOffsetOrder, src, dst, m.End)
	}
	if n := len(m.Ranges); n > 0 {
		last := &m.Ranges[n-1]
		if src < last.Src+last.Len {
			return fmt.Errorf("%w: source %d after source %d", errOffsetOrder, src, last.Src+last.Len-1)
		}
		if src == last.Src+last.Len && dst == last.Dst+last.Len {
			last.Len++
			m.End = dst + 1
			return nil
		}
	}
	m.Ranges = append(m.Ranges, OffsetRange{Src: src, Dst: dst, Len: 1})
	m.End = dst + 1
	return nil
}

// Records returns how many restored records the map holds.
func (m *PartitionMap) Records() int64 {
	var n int64
	for _, r := range m.Ranges {
		n += r.Len
	}
	return n
}

// Translation is where a committed offset lands in the target.
type Translation struct {
	// Target is the offset to commit on the target: the target offset of
	// the first restored record whose source offset is at or after the
	// committed one, or the map's End when there is none.
	Target int64
	// Before is set when the committed offset lies before the first
	// restored record: the group had not read records that were not
	// restored (before the backup's first offset, filtered out, or
	// compacted away); it resumes at the first restored one.
	Before bool
	// Skipped counts the source offsets from the committed one up to the
	// record it resumes at that were not restored (gaps of compaction,
	// filters, transactions); 0 when the committed offset was restored.
	Skipped int64
}

// Translate returns where a group that committed source offset c (the next
// record it would read) resumes in the target.
func (m *PartitionMap) Translate(c int64) Translation {
	i := sort.Search(len(m.Ranges), func(i int) bool {
		r := m.Ranges[i]
		return r.Src+r.Len > c
	})
	if i == len(m.Ranges) {
		return Translation{Target: m.End}
	}
	r := m.Ranges[i]
	if c >= r.Src {
		return Translation{Target: r.Dst + (c - r.Src)}
	}
	return Translation{Target: r.Dst, Before: i == 0, Skipped: r.Src - c}
}

// Offset map encoding: "KBOM", version 1, then for each partition its
// number, End and ranges, each range as deltas from the end of the one
// before (the first from 0), all varints.
const (
	offsetMapMagic   = "KBOM\x01"
	maxOffsetMapSize = 64 << 20
)

// EncodeOffsetMaps encodes per-partition maps compactly (a few bytes a
// range), partitions in increasing order.
func EncodeOffsetMaps(maps map[int32]*PartitionMap) []byte {
	ps := make([]int32, 0, len(maps))
	for p := range maps {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a] < ps[b] })
	b := append([]byte{}, offsetMapMagic...)
	b = binary.AppendUvarint(b, uint64(len(ps)))
	for _, p := range ps {
		m := maps[p]
		b = binary.AppendUvarint(b, uint64(p))
		b = binary.AppendUvarint(b, uint64(m.End))
		b = binary.AppendUvarint(b, uint64(len(m.Ranges)))
		var src, dst int64
		for _, r := range m.Ranges {
			b = binary.AppendUvarint(b, uint64(r.Src-src))
			b = binary.AppendUvarint(b, uint64(r.Dst-dst))
			b = binary.AppendUvarint(b, uint64(r.Len))
			src, dst = r.Src+r.Len, r.Dst+r.Len
		}
	}
	return b
}

// ErrBadOffsetMap is wrapped by DecodeOffsetMaps for bytes that are not an
// encoded offset map.
var ErrBadOffsetMap = errors.New("bad offset map")

// DecodeOffsetMaps decodes EncodeOffsetMaps's bytes. Its memory is bounded
// by the input's size: every range and partition takes at least three
// bytes. Bytes that do not decode to valid maps (ranges out of order,
// overlapping or overflowing, an End before the last range) fail with
// ErrBadOffsetMap.
func DecodeOffsetMaps(b []byte) (map[int32]*PartitionMap, error) {
	if len(b) > maxOffsetMapSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadOffsetMap, len(b), maxOffsetMapSize)
	}
	if len(b) < len(offsetMapMagic) || string(b[:len(offsetMapMagic)]) != offsetMapMagic {
		return nil, fmt.Errorf("%w: unknown format", ErrBadOffsetMap)
	}
	d := decoder{b: b[len(offsetMapMagic):]}
	np := d.count(3)
	out := make(map[int32]*PartitionMap, np)
	prev := int64(-1)
	for i := uint64(0); i < np && d.err == nil; i++ {
		p := d.int(math.MaxInt32)
		if d.err == nil && p <= prev {
			d.fail("partition %d after %d", p, prev)
		}
		prev = p
		m := &PartitionMap{End: d.int(math.MaxInt64)}
		nr := d.count(3)
		if d.err == nil && nr > 0 {
			m.Ranges = make([]OffsetRange, 0, nr)
		}
		var src, dst int64
		for k := uint64(0); k < nr && d.err == nil; k++ {
			ds, dd, n := d.int(math.MaxInt64), d.int(math.MaxInt64), d.int(math.MaxInt64)
			if d.err != nil {
				break
			}
			if n == 0 || (k > 0 && ds == 0 && dd == 0) {
				d.fail("partition %d: range %d is empty or adjacent to the one before", p, k)
				break
			}
			if ds > math.MaxInt64-src || src+ds > math.MaxInt64-n || dd > math.MaxInt64-dst || dst+dd > math.MaxInt64-n {
				d.fail("partition %d: range %d overflows", p, k)
				break
			}
			r := OffsetRange{Src: src + ds, Dst: dst + dd, Len: n}
			m.Ranges = append(m.Ranges, r)
			src, dst = r.Src+r.Len, r.Dst+r.Len
		}
		if d.err == nil && len(m.Ranges) > 0 && m.End < dst {
			d.fail("partition %d: end %d before the last restored offset %d", p, m.End, dst-1)
		}
		out[int32(p)] = m
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d bytes after the last partition", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

// decoder reads varints, keeping the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrBadOffsetMap, fmt.Sprintf(format, a...))
	}
}

// int reads a uvarint at most max.
func (d *decoder) int(max int64) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated")
		return 0
	}
	d.b = d.b[n:]
	if v > uint64(max) {
		d.fail("value %d out of range", v)
		return 0
	}
	return int64(v)
}

// count reads a count of items of at least min bytes each, refusing one
// the remaining bytes cannot hold.
func (d *decoder) count(min int) uint64 {
	v := d.int(math.MaxInt64)
	if d.err == nil && v > int64(len(d.b)/min) {
		d.fail("%d items cannot fit in %d bytes", v, len(d.b))
		return 0
	}
	return uint64(v)
}
