package restore

import (
	"bytes"
	"testing"
)

// FuzzDecodeOffsetMaps checks that any bytes either fail with
// ErrBadOffsetMap or decode to valid maps, which re-encode to bytes that
// decode to the same maps, and whose translation is monotonic and never
// beyond End.
func FuzzDecodeOffsetMaps(f *testing.F) {
	m := &PartitionMap{}
	for _, p := range [][2]int64{{0, 0}, {1, 1}, {5, 2}, {6, 9}, {7, 10}} {
		_ = m.Add(p[0], p[1])
	}
	f.Add(EncodeOffsetMaps(map[int32]*PartitionMap{0: m, 4: {End: 3}}))
	f.Add([]byte(offsetMapMagic + "\x00"))
	f.Add([]byte(offsetMapMagic + "\x01\x00\x05\x01\x00\x00\x05"))
	f.Fuzz(func(t *testing.T, b []byte) {
		maps, err := DecodeOffsetMaps(b)
		if err != nil {
			return
		}
		if len(maps) > len(b) {
			t.Fatalf("%d partitions from %d bytes", len(maps), len(b))
		}
		re := EncodeOffsetMaps(maps)
		again, err := DecodeOffsetMaps(re)
		if err != nil {
			t.Fatalf("re-encoded maps do not decode: %v", err)
		}
		if !bytes.Equal(EncodeOffsetMaps(again), re) {
			t.Fatal("encoding is not stable")
		}
		for p, m := range maps {
			if len(m.Ranges) > len(b) {
				t.Fatalf("partition %d: %d ranges from %d bytes", p, len(m.Ranges), len(b))
			}
			for i, r := range m.Ranges {
				if r.Len <= 0 || r.Src < 0 || r.Dst < 0 {
					t.Fatalf("partition %d: bad range %+v", p, r)
				}
				if i > 0 {
					q := m.Ranges[i-1]
					if r.Src < q.Src+q.Len || r.Dst < q.Dst+q.Len {
						t.Fatalf("partition %d: range %+v overlaps %+v", p, r, q)
					}
				}
				// Translation inside a range is exact.
				if got := m.Translate(r.Src + r.Len - 1).Target; got != r.Dst+r.Len-1 {
					t.Fatalf("partition %d: Translate(%d) = %d, want %d", p, r.Src+r.Len-1, got, r.Dst+r.Len-1)
				}
			}
			prev := int64(-1)
			for _, c := range []int64{0, 1, 100, 1 << 20, 1 << 40} {
				tr := m.Translate(c)
				if tr.Target < prev || tr.Target > m.End {
					t.Fatalf("partition %d: Translate(%d) = %d after %d, end %d", p, c, tr.Target, prev, m.End)
				}
				prev = tr.Target
			}
		}
	})
}
