package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestScanSegmentCorruption(t *testing.T) {
	rs := testRecords(false)
	seg := writeSegment(t, CodecZstd, 256, 0, rs, 0)
	blocks := seg.info.Blocks
	if len(blocks) < 4 {
		t.Fatalf("only %d blocks; the test needs several", len(blocks))
	}
	footerAt := int(blocks[len(blocks)-1].Pos) + blockHeaderLen + int(blocks[len(blocks)-1].StoredLen)
	b2 := blocks[2]

	flip := func(at int) []byte {
		d := bytes.Clone(seg.data)
		d[at] ^= 0x40
		return d
	}
	tests := []struct {
		name   string
		data   []byte
		intact int // blocks ScanSegment must return
	}{
		{"flipped payload byte", flip(int(b2.Pos) + blockHeaderLen + int(b2.StoredLen)/2), 2},
		{"flipped block header byte", flip(int(b2.Pos) + 30), 2},
		{"truncated inside block", seg.data[:int(b2.Pos)+blockHeaderLen+1], 2},
		{"truncated inside block header", seg.data[:int(b2.Pos)+10], 2},
		{"truncated at block boundary", seg.data[:b2.Pos], 2},
		{"footer removed", seg.data[:footerAt], len(blocks)},
		{"footer truncated", seg.data[:len(seg.data)-1], len(blocks)},
		{"flipped footer byte", flip(footerAt + 3), len(blocks)},
		{"flipped trailer magic", flip(len(seg.data) - 1), len(blocks)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ScanSegment(bytes.NewReader(tt.data), int64(len(tt.data)))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v, want one wrapping ErrCorrupt", err)
			}
			if len(got) != tt.intact {
				t.Fatalf("%d intact blocks, want %d (err %v)", len(got), tt.intact, err)
			}
			for i := range got {
				if got[i] != blocks[i] {
					t.Errorf("intact block %d: %+v, want %+v", i, got[i], blocks[i])
				}
			}
		})
	}

	t.Run("not a segment", func(t *testing.T) {
		for _, d := range [][]byte{nil, []byte("short"), bytes.Repeat([]byte("x"), 100)} {
			if _, err := ScanSegment(bytes.NewReader(d), int64(len(d))); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%q: error %v, want ErrCorrupt", d, err)
			}
		}
	})

	t.Run("reader detects", func(t *testing.T) {
		d := flip(int(b2.Pos) + blockHeaderLen + int(b2.StoredLen)/2)
		sr, err := OpenSegmentReader(bytes.NewReader(d), int64(len(d)))
		if err != nil {
			t.Fatal(err) // the footer is intact
		}
		if _, err := sr.ReadBlock(1, nil); err != nil {
			t.Errorf("block 1: %v", err)
		}
		if _, err := sr.ReadBlock(2, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("block 2: %v, want ErrCorrupt", err)
		}
		for _, d := range [][]byte{seg.data[:footerAt], flip(footerAt + 3), seg.data[:31]} {
			if _, err := OpenSegmentReader(bytes.NewReader(d), int64(len(d))); !errors.Is(err, ErrCorrupt) {
				t.Errorf("open damaged footer: %v, want ErrCorrupt", err)
			}
		}
	})
}

// TestSegmentFooterVersion: a footer from a newer format fails with ErrFormat.
func TestSegmentFooterVersion(t *testing.T) {
	seg := writeSegment(t, CodecNone, 0, 0, testRecords(false)[:3], 0)
	d := bytes.Clone(seg.data)
	n := binary.BigEndian.Uint32(d[len(d)-trailerLen:])
	body := d[len(d)-trailerLen-int(n) : len(d)-trailerLen]
	body[0] = segVersion + 1
	binary.BigEndian.PutUint32(d[len(d)-trailerLen+4:], crc32c(body))
	if _, err := OpenSegmentReader(bytes.NewReader(d), int64(len(d))); !errors.Is(err, ErrFormat) {
		t.Errorf("error %v, want ErrFormat", err)
	}
}

// TestSegmentFooterBounds: a footer whose checksum is right but whose block
// table points outside the object is reported as corrupt, not read.
func TestSegmentFooterBounds(t *testing.T) {
	seg := writeSegment(t, CodecNone, 0, 0, testRecords(false)[:3], 0)
	tests := []struct {
		name string
		mut  func(b *BlockInfo)
	}{
		{"huge stored length", func(b *BlockInfo) { b.StoredLen = 1<<32 - 1 }},
		{"huge raw length", func(b *BlockInfo) { b.RawLen = 1<<32 - 1 }},
		{"negative position", func(b *BlockInfo) { b.Pos = -5 }},
		{"position past the end", func(b *BlockInfo) { b.Pos = 1 << 40 }},
		{"codec differs from block header", func(b *BlockInfo) { b.Codec = CodecGzip }},
		{"last offset differs from block header", func(b *BlockInfo) { b.LastOffset++ }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			si := seg.info
			si.Blocks = append([]BlockInfo(nil), si.Blocks...)
			tt.mut(&si.Blocks[0])
			last := seg.info.Blocks[len(seg.info.Blocks)-1]
			d := appendFooter(bytes.Clone(seg.data[:last.Pos+blockHeaderLen+int64(last.StoredLen)]), &si)
			sr, err := OpenSegmentReader(bytes.NewReader(d), int64(len(d)))
			if err == nil {
				_, err = sr.ReadBlock(0, nil)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v, want ErrCorrupt", err)
			}
		})
	}
}
