package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"
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

// TestJSONStringEscapesAtEveryPosition puts every byte that needs escaping,
// alone and in pairs, at every position of strings up to 40 bytes, around
// the word boundaries where appendValidJSONString skips 8 and 16 bytes at a
// time, and checks the result against encoding/json and validStringLen.
func TestJSONStringEscapesAtEveryPosition(t *testing.T) {
	special := []byte{0x00, 0x01, 0x1f, '"', '\\', '\n', 0x7f, ' ', 0x21, 0x5b, 0x5d}
	for n := range 41 {
		for i := range n {
			for _, a := range special {
				for _, j := range []int{-1, i + 1, i + 7, i + 8, n - 1} {
					for _, c := range []byte{a, '"', 0x1f} {
						b := bytes.Repeat([]byte{'x'}, n)
						b[i] = a
						if j > i && j < n {
							b[j] = c
						}
						got := appendValidJSONString(nil, b)
						var s string
						if err := json.Unmarshal(got, &s); err != nil || s != string(b) {
							t.Fatalf("%q: got %s (%v)", b, got, err)
						}
						if l := validStringLen(b); l != len(got) {
							t.Fatalf("%q: validStringLen %d, rendered %d bytes", b, l, len(got))
						}
					}
				}
			}
		}
	}
}

func TestTimestampLen(t *testing.T) {
	base := time.Date(2024, 2, 29, 23, 59, 58, 0, time.UTC)
	times := []time.Time{
		base, base.Add(time.Nanosecond), base.Add(10 * time.Nanosecond), base.Add(time.Microsecond),
		base.Add(time.Millisecond), base.Add(120 * time.Millisecond), base.Add(999999999),
		base.In(time.FixedZone("X", -5*3600)), time.UnixMilli(-1), time.Unix(0, 0),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond),
		time.Date(-1, 12, 31, 23, 59, 59, 5, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 100, time.UTC),
		time.UnixMilli(math.MaxInt64), time.UnixMilli(math.MinInt64),
	}
	for _, ts := range times {
		want := len(ts.UTC().AppendFormat(nil, timeLayout))
		if got := timestampLen(ts); got != want {
			t.Errorf("timestampLen(%s) = %d, want %d", ts.UTC().Format(timeLayout), got, want)
		}
	}
}

// TestJSONFieldInvalidUTF8AtEveryPosition puts an invalid or a valid
// multi-byte sequence at every position of strings up to 40 bytes, with
// escapes before it: appendBytesField must fall back to base64 for exactly
// the invalid ones, and bytesFieldLen must agree with what it rendered.
func TestJSONFieldInvalidUTF8AtEveryPosition(t *testing.T) {
	seqs := [][]byte{{0xff}, {0xc3}, {0xc3, 0x28}, {0xe2, 0x98}, {0xed, 0xa0, 0x80}, {0xc3, 0xa9}, {0xe2, 0x98, 0x83}, {0xf0, 0x9f, 0x98, 0x80}}
	for n := range 41 {
		for i := 0; i <= n; i++ {
			for _, seq := range seqs {
				b := append(bytes.Repeat([]byte{'"'}, i%3), bytes.Repeat([]byte{'y'}, i-i%3)...)
				b = append(append(b, seq...), bytes.Repeat([]byte{'\n'}, n-i)...)
				got := appendBytesField(nil, "v", b)
				if l := bytesFieldLen("v", b); l != len(got) {
					t.Fatalf("%q: bytesFieldLen %d, rendered %d bytes: %s", b, l, len(got), got)
				}
				var j struct {
					V   string `json:"v"`
					Enc string `json:"v_encoding"`
				}
				if err := json.Unmarshal(append(append([]byte{'{'}, got[1:]...), '}'), &j); err != nil {
					t.Fatalf("%q: %s: %v", b, got, err)
				}
				if want := map[bool]string{true: "", false: "base64"}[utf8.Valid(b)]; j.Enc != want {
					t.Fatalf("%q: encoding %q, want %q", b, j.Enc, want)
				}
				dec := []byte(j.V)
				if j.Enc == "base64" {
					dec, _ = base64.StdEncoding.DecodeString(j.V)
				}
				if !bytes.Equal(dec, b) {
					t.Fatalf("%q: decoded %q", b, dec)
				}
			}
		}
	}
}
