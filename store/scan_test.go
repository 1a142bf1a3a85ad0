package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
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

// TestSegmentFooterBounds: a footer whose checksum is right but whose
// fields break the format's limits or disagree with each other is reported
// as corrupt, naming what is wrong, before any block is read.
func TestSegmentFooterBounds(t *testing.T) {
	seg := writeSegment(t, CodecNone, 16, 0, testRecords(false)[:3], 0)
	if len(seg.info.Blocks) != 3 {
		t.Fatalf("%d blocks, the test needs 3", len(seg.info.Blocks))
	}
	tests := []struct {
		name string
		mut  func(si *SegmentInfo)
		want string
	}{
		{"huge stored length", func(si *SegmentInfo) { si.Blocks[0].StoredLen = 1<<32 - 1 }, "stored length 4294967295 is above its raw length"},
		{"huge raw length", func(si *SegmentInfo) { si.Blocks[0].RawLen = 1<<32 - 1 }, "raw length 4294967295 is above the limit"},
		{"stored above raw", func(si *SegmentInfo) { si.Blocks[0].Codec, si.Blocks[0].RawLen = CodecZstd, si.Blocks[0].StoredLen-1 }, "above its raw length"},
		{"unknown codec", func(si *SegmentInfo) { si.Blocks[0].Codec = 9 }, "unknown codec 9"},
		{"negative position", func(si *SegmentInfo) { si.Blocks[0].Pos = -5 }, "block 0 at byte -5"},
		{"position past the end", func(si *SegmentInfo) { si.Blocks[0].Pos = 1 << 40 }, "block 0 at byte 1099511627776"},
		{"gap between blocks", func(si *SegmentInfo) { si.Blocks[1].Pos++ }, "block 1 at byte"},
		{"blocks swapped", func(si *SegmentInfo) { si.Blocks[0], si.Blocks[1] = si.Blocks[1], si.Blocks[0] }, "block 0 at byte"},
		{"no records", func(si *SegmentInfo) { si.Blocks[0].Count = 0 }, "holds no records"},
		{"more records than bytes", func(si *SegmentInfo) { si.Blocks[0].Count = 1<<32 - 1 }, "4294967295 records cannot fit"},
		{"more records than offsets", func(si *SegmentInfo) { si.Blocks[0].Count = 2 }, "2 records cannot have offsets 10 to 10"},
		{"offsets backwards", func(si *SegmentInfo) { si.Blocks[0].LastOffset = 9 }, "offsets 10 to 9"},
		{"offsets overlap the next block", func(si *SegmentInfo) { si.Blocks[1].FirstOffset = 10 }, "block 1 starts at offset 10"},
		{"timestamps backwards", func(si *SegmentInfo) { si.Blocks[0].MinTimestamp = si.Blocks[0].MaxTimestamp + 1 }, "timestamps from"},
		{"negative decoded bytes", func(si *SegmentInfo) { si.Blocks[0].DecodedBytes = -1 }, "decodes to -1 bytes"},
		{"huge decoded bytes", func(si *SegmentInfo) { si.Blocks[0].DecodedBytes = 1 << 62 }, "decodes to 4611686018427387904 bytes"},
		{"record total", func(si *SegmentInfo) { si.Records++ }, "footer totals (4 records"},
		{"decoded total", func(si *SegmentInfo) { si.DecodedBytes-- }, "footer totals"},
		{"first offset", func(si *SegmentInfo) { si.FirstOffset-- }, "footer offsets 9-12"},
		{"next offset", func(si *SegmentInfo) { si.NextOffset = si.LastOffset }, "fetch range"},
		{"start after next", func(si *SegmentInfo) { si.StartOffset = si.NextOffset + 1 }, "before its start offset"},
		{"min timestamp", func(si *SegmentInfo) { si.MinTimestamp-- }, "footer timestamps"},
		{"last timestamp", func(si *SegmentInfo) { si.LastTimestamp = si.MaxTimestamp + 1 }, "footer timestamps"},
	}
	last := seg.info.Blocks[len(seg.info.Blocks)-1]
	blocksEnd := last.Pos + blockHeaderLen + int64(last.StoredLen)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			si := seg.info
			si.Blocks = append([]BlockInfo(nil), si.Blocks...)
			tt.mut(&si)
			d := appendFooter(bytes.Clone(seg.data[:blocksEnd]), &si)
			_, err := OpenSegmentReader(bytes.NewReader(d), int64(len(d)))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrCorrupt saying %q", err, tt.want)
			}
		})
	}
	t.Run("footer lists too many blocks", func(t *testing.T) {
		d := appendFooter(bytes.Clone(seg.data[:blocksEnd]), &seg.info)
		body := d[blocksEnd : len(d)-trailerLen]
		binary.BigEndian.PutUint32(body[footerFixedLen-4:], MaxSegmentBlocks+1)
		binary.BigEndian.PutUint32(d[len(d)-trailerLen+4:], crc32c(body))
		if _, err := OpenSegmentReader(bytes.NewReader(d), int64(len(d))); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "lists 65537 blocks") {
			t.Errorf("error %v, want ErrCorrupt about the block count", err)
		}
	})
	t.Run("footer agrees", func(t *testing.T) {
		d := appendFooter(bytes.Clone(seg.data[:blocksEnd]), &seg.info)
		if _, err := OpenSegmentReader(bytes.NewReader(d), int64(len(d))); err != nil {
			t.Errorf("rewritten but unchanged footer: %v", err)
		}
	})
}

// TestScanSegmentChecksRecords: a block whose checksums are right but whose
// records disagree with its header fails the full scan and the reader.
func TestScanSegmentChecksRecords(t *testing.T) {
	rs := testRecords(false)[:3]
	var p []byte
	var lines int64
	for i := range rs {
		p = appendRecord(p, &rs[i], rs[0].Offset)
		lines += JSONLineLen(&rs[i])
	}
	ts := func(i int) int64 { return rs[i].Timestamp.UnixMilli() }
	good := BlockInfo{Codec: CodecNone, RawLen: uint32(len(p)), Count: 3, FirstOffset: 10, LastOffset: 12,
		MinTimestamp: ts(0), MaxTimestamp: ts(2), DecodedBytes: lines}
	tests := []struct {
		name string
		mut  func(b *BlockInfo)
		want string
	}{
		{"count too low", func(b *BlockInfo) { b.Count = 2 }, "holds more than 2 records"},
		{"count too high", func(b *BlockInfo) { b.Count = 3; b.LastOffset = 13 }, "last record has offset 12"},
		{"first offset", func(b *BlockInfo) { b.FirstOffset = 9 }, "last record has offset 11"},
		{"last offset", func(b *BlockInfo) { b.LastOffset = 13 }, "last record has offset 12"},
		{"min timestamp", func(b *BlockInfo) { b.MinTimestamp-- }, "record timestamps"},
		{"max timestamp", func(b *BlockInfo) { b.MaxTimestamp++ }, "record timestamps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := good
			tt.mut(&b)
			d := craftBlocks(b, p)
			_, err := ScanSegment(bytes.NewReader(d), int64(len(d)))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ScanSegment: %v, want ErrCorrupt saying %q", err, tt.want)
			}
			sr, err := OpenSegmentReader(bytes.NewReader(d), int64(len(d)))
			if err == nil {
				err = sr.Records(0, func(*Record) error { return nil })
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Records: %v, want ErrCorrupt saying %q", err, tt.want)
			}
		})
	}
	t.Run("agrees", func(t *testing.T) {
		d := craftBlocks(good, p)
		if _, err := ScanSegment(bytes.NewReader(d), int64(len(d))); err != nil {
			t.Errorf("ScanSegment: %v", err)
		}
	})
	t.Run("offset past the header's last", func(t *testing.T) {
		gap := append([]Record(nil), rs[:2]...)
		gap[1].Offset = 12
		var q []byte
		for i := range gap {
			q = appendRecord(q, &gap[i], gap[0].Offset)
		}
		b := BlockInfo{Codec: CodecNone, RawLen: uint32(len(q)), Count: 2, FirstOffset: 10, LastOffset: 11,
			MinTimestamp: ts(0), MaxTimestamp: ts(1)}
		d := craftBlocks(b, q)
		if _, err := ScanSegment(bytes.NewReader(d), int64(len(d))); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "record 1 has offset 12") {
			t.Errorf("ScanSegment: %v, want ErrCorrupt about record 1", err)
		}
	})
}
