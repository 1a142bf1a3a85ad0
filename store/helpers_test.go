package store

import (
	"bytes"
	"context"
	"math/rand"
	"testing"
	"time"
)

// baseTime is the fixed timestamp test records start at.
var baseTime = time.Date(2024, 5, 17, 10, 30, 0, 123_000_000, time.UTC)

// cloneRecord deep-copies r, keeping the nil/empty distinction of every
// slice, because DecodeBlock reuses its record between calls.
func cloneRecord(r *Record) Record {
	c := *r
	c.Key = cloneBytes(r.Key)
	c.Value = cloneBytes(r.Value)
	c.Headers = nil
	if r.Headers != nil {
		c.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			c.Headers[i] = Header{Key: h.Key, Value: cloneBytes(h.Value)}
		}
	}
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// sameRecord reports how got differs from want ("" if it does not),
// distinguishing nil from empty keys, values and header values.
func sameRecord(t *testing.T, got, want *Record) {
	t.Helper()
	if got.Offset != want.Offset {
		t.Fatalf("offset %d, want %d", got.Offset, want.Offset)
	}
	if !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("offset %d: timestamp %v, want %v", want.Offset, got.Timestamp, want.Timestamp)
	}
	if got.TimestampType != want.TimestampType || got.LeaderEpoch != want.LeaderEpoch {
		t.Errorf("offset %d: type/epoch %v/%d, want %v/%d", want.Offset, got.TimestampType, got.LeaderEpoch, want.TimestampType, want.LeaderEpoch)
	}
	sameBytes(t, "key", want.Offset, got.Key, want.Key)
	sameBytes(t, "value", want.Offset, got.Value, want.Value)
	if len(got.Headers) != len(want.Headers) {
		t.Fatalf("offset %d: %d headers, want %d", want.Offset, len(got.Headers), len(want.Headers))
	}
	for i := range want.Headers {
		if got.Headers[i].Key != want.Headers[i].Key {
			t.Errorf("offset %d header %d: key %q, want %q", want.Offset, i, got.Headers[i].Key, want.Headers[i].Key)
		}
		sameBytes(t, "header value", want.Offset, got.Headers[i].Value, want.Headers[i].Value)
	}
}

func sameBytes(t *testing.T, what string, off int64, got, want []byte) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Errorf("offset %d: %s nil=%v, want nil=%v", off, what, got == nil, want == nil)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("offset %d: %s differs (len %d, want %d)", off, what, len(got), len(want))
	}
}

// testRecords returns a varied set of records: null and empty keys and
// values, headers with null and empty values, both timestamp types, offset
// gaps, and (if big) 1 MiB values, one of them incompressible.
func testRecords(big bool) []Record {
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, 1<<20)
	rng.Read(random)
	ts := func(i int) time.Time { return baseTime.Add(time.Duration(i) * time.Second) }
	rs := []Record{
		{Offset: 10, Timestamp: ts(0), Key: []byte("k0"), Value: []byte("hello")},
		{Offset: 11, Timestamp: ts(1), Key: nil, Value: []byte("null key")},
		{Offset: 12, Timestamp: ts(2), Key: []byte{}, Value: []byte("empty key")},
		{Offset: 13, Timestamp: ts(3), Key: []byte("tombstone"), Value: nil},
		{Offset: 14, Timestamp: ts(4), Key: []byte("empty"), Value: []byte{}},
		{Offset: 15, Timestamp: ts(-100), TimestampType: TimestampLogAppend, LeaderEpoch: 7, Key: []byte("older ts"), Value: []byte("x")},
		{Offset: 20, Timestamp: ts(5), Key: []byte("after gap"), Value: []byte{0xff, 0x00, 0xfe}, Headers: []Header{
			{Key: "a", Value: []byte("1")},
			{Key: "null", Value: nil},
			{Key: "empty", Value: []byte{}},
			{Key: "", Value: []byte("empty key")},
			{Key: "a", Value: []byte("duplicate key, later")},
		}},
		{Offset: 21, Timestamp: ts(6), Headers: []Header{{Key: "only", Value: nil}}},
		{Offset: 1000, Timestamp: ts(7), TimestampType: TimestampLogAppend, LeaderEpoch: -1, Key: []byte("big gap"), Value: []byte(`{"json":"value\n"}`)},
	}
	for i := 0; i < 200; i++ {
		rs = append(rs, Record{Offset: 1001 + int64(i), Timestamp: ts(8 + i), LeaderEpoch: 3,
			Key: []byte{byte(i)}, Value: bytes.Repeat([]byte("compressible "), i)})
	}
	if big {
		next := rs[len(rs)-1].Offset + 1
		rs = append(rs,
			Record{Offset: next, Timestamp: ts(300), Key: []byte("1MiB zeros"), Value: make([]byte, 1<<20)},
			Record{Offset: next + 1, Timestamp: ts(301), Key: []byte("1MiB random"), Value: random},
		)
	}
	return rs
}

// segmentResult is what writing a segment produced.
type segmentResult struct {
	data []byte
	info SegmentInfo
	size int64
	crc  uint32
}

// writeSegment encodes rs as a segment of partition 3 starting at start,
// calling Skip(skipTo) at the end if skipTo > 0.
func writeSegment(t testing.TB, c Codec, blockSize int, start int64, rs []Record, skipTo int64) segmentResult {
	t.Helper()
	var buf bytes.Buffer
	sw := NewSegmentWriter(&buf, 3, c, start, blockSize)
	for i := range rs {
		if err := sw.Append(&rs[i]); err != nil {
			t.Fatalf("append offset %d: %v", rs[i].Offset, err)
		}
	}
	if skipTo > 0 {
		sw.Skip(skipTo)
	}
	info, size, crc, err := sw.Close()
	if err != nil {
		t.Fatalf("close segment: %v", err)
	}
	return segmentResult{data: buf.Bytes(), info: info, size: size, crc: crc}
}

// readAll decodes every record of sr at or after from.
func readAll(t *testing.T, sr *SegmentReader, from int64) []Record {
	t.Helper()
	var out []Record
	if err := sr.Records(from, func(r *Record) error {
		out = append(out, cloneRecord(r))
		return nil
	}); err != nil {
		t.Fatalf("records from %d: %v", from, err)
	}
	return out
}

// memStore opens a fresh in-memory store.
func memStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), "mem://")
	if err != nil {
		t.Fatalf("open mem://: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fileStore opens a store on dir (a new temporary directory if "").
func fileStore(t *testing.T, dir string) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
