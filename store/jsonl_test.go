package store

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// goldenRecords are fixed records (fixed timestamps) covering every way a
// field can be rendered.
func goldenRecords() []Record {
	ts := time.Date(2024, 2, 29, 23, 59, 58, 0, time.UTC)
	return []Record{
		{Offset: 0, Timestamp: ts, Key: []byte("user-1"), Value: []byte(`{"name":"Ann","age":41}`)},
		{Offset: 1, Timestamp: ts.Add(1500 * time.Millisecond), TimestampType: TimestampLogAppend, Key: nil, Value: []byte("null key")},
		{Offset: 2, Timestamp: ts.Add(2 * time.Millisecond), Key: []byte{}, Value: []byte{}},
		{Offset: 3, Timestamp: ts, Key: []byte("tombstone"), Value: nil},
		{Offset: 4, Timestamp: ts.In(time.FixedZone("CET", 3600)), Key: []byte{0x00, 0xff, 0x10}, Value: []byte{0xde, 0xad, 0xbe, 0xef}},
		{Offset: 5, Timestamp: ts, Key: []byte("escapes"), Value: []byte("quote \" backslash \\ newline \n tab \t cr \r nul \x00 bell \x07 del \x7f é ☃ 😀")},
		{Offset: 6, Timestamp: ts, Key: []byte("headers"), Value: []byte("v"), Headers: []Header{
			{Key: "trace-id", Value: []byte("abc")},
			{Key: "null", Value: nil},
			{Key: "empty", Value: []byte{}},
			{Key: "binary", Value: []byte{0xc3, 0x28}},
			{Key: "bad\xffkey", Value: []byte("x")},
			{Key: "trace-id", Value: []byte("second")},
		}},
		{Offset: 9223372036854775806, Timestamp: time.UnixMilli(0).UTC(), Key: []byte("max offset"), Value: []byte("1")},
		{Offset: 8, Timestamp: time.UnixMilli(-1).UTC(), Key: []byte("before epoch"), Value: []byte("2")},
	}
}

func TestJSONLineGolden(t *testing.T) {
	var out []byte
	for _, r := range goldenRecords() {
		start := len(out)
		out = AppendJSONLine(out, &r)
		checkJSONLine(t, &r, out[start:])
	}
	golden := filepath.Join("testdata", "records.golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("JSON lines differ from %s (run go test -update if the change is intended):\n got:\n%s\nwant:\n%s", golden, out, want)
	}
}

func TestJSONLineOfDecodedRecords(t *testing.T) {
	// What AppendJSONLine makes of a record must not change by storing it.
	rs := goldenRecords()
	for i := range rs {
		rs[i].Offset = int64(i)
	}
	seg := writeSegment(t, CodecSnappy, 0, 0, rs, 0)
	sr, err := OpenSegmentReader(bytes.NewReader(seg.data), seg.size)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	err = sr.Records(0, func(r *Record) error {
		if got, want := AppendJSONLine(nil, r), AppendJSONLine(nil, &rs[i]); !bytes.Equal(got, want) {
			t.Errorf("record %d after storing:\n%s want\n%s", i, got, want)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
