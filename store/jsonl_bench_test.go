package store

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// jsonBenchRecords returns records shaped like the mount benchmarks' (a
// 400-byte JSON value, a short key, one header) and the size of their JSON
// lines.
func jsonBenchRecords() ([]Record, int) {
	value := strings.Repeat("abcdefghij", 40)
	rs := make([]Record, 64)
	var size int
	for i := range rs {
		rs[i] = Record{
			Offset: int64(i), Timestamp: time.UnixMilli(1700000000000 + int64(i)),
			Key:     []byte(fmt.Sprintf("key-%d", i)),
			Value:   []byte(fmt.Sprintf(`{"id":%d,"payload":"%s"}`, i, value)),
			Headers: []Header{{Key: "h", Value: []byte("v")}},
		}
		size += len(AppendJSONLine(nil, &rs[i]))
	}
	return rs, size
}

// BenchmarkAppendJSONLine renders jsonBenchRecords, the work behind every
// records.jsonl read.
func BenchmarkAppendJSONLine(b *testing.B) {
	rs, size := jsonBenchRecords()
	buf := make([]byte, 0, 2*size)
	b.SetBytes(int64(size))
	for b.Loop() {
		buf = buf[:0]
		for i := range rs {
			buf = AppendJSONLine(buf, &rs[i])
		}
	}
}

// BenchmarkAppendValidJSONString renders 4,000 bytes with nothing to
// escape.
func BenchmarkAppendValidJSONString(b *testing.B) {
	src := []byte(strings.Repeat("abcdefghij", 400))
	dst := make([]byte, 0, 2*len(src))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		dst = appendValidJSONString(dst[:0], src)
	}
}

// BenchmarkJSONLineLen sizes the same records as BenchmarkAppendJSONLine:
// the backup does it for every record, for the index's JSON sizes.
func BenchmarkJSONLineLen(b *testing.B) {
	rs, size := jsonBenchRecords()
	b.SetBytes(int64(size))
	for b.Loop() {
		for i := range rs {
			JSONLineLen(&rs[i])
		}
	}
}
