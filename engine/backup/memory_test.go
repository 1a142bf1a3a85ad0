package backup

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDetach checks that detach leaves records equal, nil and empty apart,
// and sharing nothing with the buffer they were decoded from.
func TestDetach(t *testing.T) {
	src := []byte("keyvaluehdr")
	recs := []*kgo.Record{
		{Key: src[0:3], Value: src[3:8], Headers: []kgo.RecordHeader{{Key: "h", Value: src[8:11]}, {Key: "nil"}, {Key: "empty", Value: src[0:0]}}},
		{Key: nil, Value: src[0:0]},
		{Key: src[0:0], Value: nil},
	}
	detach(recs)
	copy(src, "XXXXXXXXXXX")
	want := []struct {
		key, value []byte
		headers    [][]byte
	}{
		{[]byte("key"), []byte("value"), [][]byte{[]byte("hdr"), nil, {}}},
		{nil, []byte{}, nil},
		{[]byte{}, nil, nil},
	}
	same := func(what string, got, want []byte) {
		t.Helper()
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("%s: %q (nil %v), want %q (nil %v)", what, got, got == nil, want, want == nil)
		}
	}
	for i, w := range want {
		r := recs[i]
		same("key", r.Key, w.key)
		same("value", r.Value, w.value)
		for j, h := range w.headers {
			same("header", r.Headers[j].Value, h)
		}
	}
	recs[0].Key = append(recs[0].Key, '!') // capped: must not overwrite the value
	same("value after appending to the key", recs[0].Value, []byte("value"))
}
