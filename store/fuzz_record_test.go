package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store/storetest/fuzzcheck"
)

// FuzzDecodeBlock decodes arbitrary block payloads: no panic, an error
// wrapping ErrCorrupt for what does not parse, a bounded allocation, and
// for what decodes, a re-encode that decodes to the same records, each
// rendering as one valid JSON line of the length JSONLineLen predicts and
// within the bound the reader's footer check relies on.
func FuzzDecodeBlock(f *testing.F) {
	rs := testRecords(false)[:12]
	var p []byte
	for i := range rs {
		p = appendRecord(p, &rs[i], rs[0].Offset)
	}
	f.Add(p, rs[0].Offset)
	f.Add(p[:len(p)-3], int64(0))
	f.Add([]byte{0, 6, 0, 0, 0}, int64(-1))
	f.Add([]byte{0x80, 0x80, 0x80}, int64(1<<62))
	f.Add(headerBomb(1000), int64(0))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 6, 0, 0, 0}, int64(1))
	f.Fuzz(func(t *testing.T, payload []byte, base int64) {
		// Decoding allocates at most one record's Header slice (at most
		// MaxRecordHeaders) and the header keys as strings.
		var err error
		fuzzcheck.Bounded(t, "DecodeBlock", uint64(fuzzcheck.Base+4*len(payload)), func() {
			err = DecodeBlock(payload, base, func(*Record) error { return nil })
		})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeBlock: %v, want ErrCorrupt", err)
			}
			return
		}
		var got []Record
		var sizes []int
		d := payloadDecoder{b: payload, base: base, size: len(payload)}
		var r Record
		for before := len(d.b); d.next(&r); before = len(d.b) {
			got = append(got, cloneRecord(&r))
			sizes = append(sizes, before-len(d.b))
		}
		if d.err != nil {
			t.Fatalf("DecodeBlock succeeded, the decoder failed: %v", d.err)
		}
		var line []byte
		for i := range got {
			line = AppendJSONLine(line[:0], &got[i])
			checkJSONLine(t, &got[i], line)
			if limit := int64(maxLineOverhead + maxLineExpansion*sizes[i]); int64(len(line)) > limit {
				t.Fatalf("record %d of %d bytes renders as %d bytes, above the bound %d", i, sizes[i], len(line), limit)
			}
		}
		// What decodes must survive a re-encode unchanged.
		var again []byte
		for i := range got {
			again = appendRecord(again, &got[i], base)
		}
		i := 0
		err = DecodeBlock(again, base, func(r *Record) error {
			if i >= len(got) {
				t.Fatalf("re-encoded block has more records")
			}
			sameRecord(t, r, &got[i])
			i++
			return nil
		})
		if err != nil || i != len(got) {
			t.Fatalf("re-encoded block: %d of %d records, %v", i, len(got), err)
		}
	})
}

// jsonLine is AppendJSONLine's output as encoding/json sees it.
type jsonLine struct {
	Offset        *int64  `json:"offset"`
	Timestamp     string  `json:"timestamp"`
	TimestampType string  `json:"timestamp_type"`
	Key           *string `json:"key"`
	KeyEncoding   string  `json:"key_encoding"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding"`
	Headers       []struct {
		Key           string  `json:"key"`
		Value         *string `json:"value"`
		ValueEncoding string  `json:"value_encoding"`
	} `json:"headers"`
}

// decodeField turns a JSON string-or-base64 field back into bytes.
func decodeField(t *testing.T, what string, v *string, enc string) []byte {
	t.Helper()
	switch {
	case v == nil:
		if enc != "" {
			t.Fatalf("%s: null with encoding %q", what, enc)
		}
		return nil
	case enc == "base64":
		b, err := base64.StdEncoding.DecodeString(*v)
		if err != nil {
			t.Fatalf("%s: bad base64: %v", what, err)
		}
		return b
	case enc == "":
		return []byte(*v)
	}
	t.Fatalf("%s: unknown encoding %q", what, enc)
	return nil
}

// checkJSONLine checks that line is r's JSON line: one line of valid JSON
// that decodes back to r's fields.
func checkJSONLine(t *testing.T, r *Record, line []byte) {
	t.Helper()
	if n := JSONLineLen(r); int64(len(line)) != n {
		t.Fatalf("line is %d bytes, JSONLineLen says %d: %s", len(line), n, line)
	}
	if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("not exactly one line: %q", line)
	}
	if !json.Valid(line) {
		t.Fatalf("invalid JSON: %s", line)
	}
	var j jsonLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("decode %s: %v", line, err)
	}
	if j.Offset == nil || *j.Offset != r.Offset {
		t.Errorf("offset %v, want %d", j.Offset, r.Offset)
	}
	if j.TimestampType != r.TimestampType.String() {
		t.Errorf("timestamp_type %q, want %q", j.TimestampType, r.TimestampType)
	}
	if y := r.Timestamp.UTC().Year(); y >= 0 && y <= 9999 {
		ts, err := time.Parse(time.RFC3339Nano, j.Timestamp)
		if err != nil || !ts.Equal(r.Timestamp) {
			t.Errorf("timestamp %q (%v), want %v", j.Timestamp, err, r.Timestamp)
		}
	}
	if got := decodeField(t, "key", j.Key, j.KeyEncoding); (got == nil) != (r.Key == nil) || !bytes.Equal(got, r.Key) {
		t.Errorf("key %q, want %q", got, r.Key)
	}
	if got := decodeField(t, "value", j.Value, j.ValueEncoding); (got == nil) != (r.Value == nil) || !bytes.Equal(got, r.Value) {
		t.Errorf("value %q, want %q", got, r.Value)
	}
	if len(j.Headers) != len(r.Headers) {
		t.Fatalf("%d headers, want %d", len(j.Headers), len(r.Headers))
	}
	for i, h := range j.Headers {
		// Invalid UTF-8 in a header key becomes one U+FFFD per bad byte.
		if want := string([]rune(r.Headers[i].Key)); h.Key != want {
			t.Errorf("header %d key %q, want %q", i, h.Key, want)
		}
		got := decodeField(t, "header value", h.Value, h.ValueEncoding)
		if (got == nil) != (r.Headers[i].Value == nil) || !bytes.Equal(got, r.Headers[i].Value) {
			t.Errorf("header %d value %q, want %q", i, got, r.Headers[i].Value)
		}
	}
}

func FuzzJSONLine(f *testing.F) {
	f.Add(int64(0), int64(0), false, []byte("k"), false, []byte("v"), false, "h", []byte("hv"), false)
	f.Add(int64(-1), int64(-62135596800000), true, []byte{}, true, []byte{}, true, "", []byte{}, true)
	f.Add(int64(1<<62), int64(253402300799999), true, []byte{0xff, 0xfe}, false, []byte("\x00\"\\\n\r\t\u2028é"), false, "\xff\xc3", []byte{0x80}, false)
	f.Add(int64(42), baseTime.UnixMilli(), false, []byte(`{"a":1}`), false, []byte("\xed\xa0\x80"), false, "ok\x7f", []byte("\ufffd"), false)
	f.Fuzz(func(t *testing.T, off, ms int64, logAppend bool, key []byte, keyNull bool, value []byte, valueNull bool, hk string, hv []byte, hvNull bool) {
		in := len(key) + len(value) + len(hk) + len(hv)
		r := Record{Offset: off, Timestamp: msTime(ms), Key: key, Value: value,
			Headers: []Header{{Key: hk, Value: hv}, {Key: "n", Value: nil}}}
		if logAppend {
			r.TimestampType = TimestampLogAppend
		}
		if r.Key == nil {
			r.Key = []byte{}
		}
		if r.Value == nil {
			r.Value = []byte{}
		}
		if r.Headers[0].Value == nil {
			r.Headers[0].Value = []byte{}
		}
		if keyNull {
			r.Key = nil
		}
		if valueNull {
			r.Value = nil
		}
		if hvNull {
			r.Headers[0].Value = nil
		}
		var line []byte
		fuzzcheck.Bounded(t, "AppendJSONLine", uint64(fuzzcheck.Base+16*in), func() { line = AppendJSONLine(nil, &r) })
		checkJSONLine(t, &r, line)
		// Appending to a non-empty buffer must not change the line.
		prefix := []byte("previous line\n")
		out := AppendJSONLine(bytes.Clone(prefix), &r)
		if !bytes.Equal(out[len(prefix):], AppendJSONLine(nil, &r)) {
			t.Fatal("line depends on the buffer it is appended to")
		}
	})
}
