package backup

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/store"
)

// TestDetach checks that detach leaves records equal, nil and empty apart,
// and sharing nothing with the buffer they were decoded from when that
// buffer is much larger than they are (a fetch response).
func TestDetach(t *testing.T) {
	src := make([]byte, 11, 1<<20) // the records' bytes, then the rest of a large response
	copy(src, "keyvaluehdr")
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

// TestDetachOwnBatch checks that records which keep only a buffer about
// their own size alive (a decompressed batch) are not copied: the copy
// would only cost a pass over every byte.
func TestDetachOwnBatch(t *testing.T) {
	batch := make([]byte, 0, 64<<10)
	var recs []*kgo.Record
	for i := range 100 {
		v := []byte(fmt.Sprintf("value-%03d-%s", i, bytes.Repeat([]byte("x"), 300)))
		batch = append(batch, v...)
		recs = append(recs, &kgo.Record{Value: batch[len(batch)-len(v):]})
	}
	detach(recs)
	if &recs[0].Value[0] != &batch[0] {
		t.Fatal("records of a batch-sized buffer were copied")
	}
	// The same records in a buffer reaching far past them are copied.
	big := make([]byte, len(batch), 64<<20)
	copy(big, batch)
	off := 0
	for _, r := range recs {
		r.Value = big[off : off+len(r.Value)]
		off += len(r.Value)
	}
	detach(recs)
	if &recs[0].Value[0] == &big[0] {
		t.Fatal("records in a 64 MiB buffer were not copied")
	}
	if !bytes.Equal(recs[99].Value, batch[len(batch)-len(recs[99].Value):]) {
		t.Fatal("copied record differs")
	}
}

// TestBatchCostStable admits batches of both kinds and gives them back:
// the budget returns to zero (admit and releaseBatch count the same), and
// records left in their batch's buffer count twice what copied ones do.
func TestBatchCostStable(t *testing.T) {
	m := &memory{inflight: store.NewBudget(1 << 30)}
	mk := func(buf []byte) []*kgo.Record {
		var recs []*kgo.Record
		for i := range 50 {
			v := buf[i*200 : i*200+200]
			recs = append(recs, &kgo.Record{Key: v[:10], Value: v[10:], Headers: []kgo.RecordHeader{{Key: "h", Value: v[:0]}}})
		}
		return recs
	}
	own := mk(make([]byte, 50*200))            // a decompressed batch: left in place
	fetched := mk(make([]byte, 50*200, 8<<20)) // inside a fetch response: copied
	ctx := context.Background()
	if err := m.admit(ctx, own); err != nil {
		t.Fatal(err)
	}
	inPlace := m.inflight.InUse()
	if err := m.admit(ctx, fetched); err != nil {
		t.Fatal(err)
	}
	copied := m.inflight.InUse() - inPlace
	if inPlace != 2*copied {
		t.Errorf("records left in place count %d, copied ones %d: want twice", inPlace, copied)
	}
	m.releaseBatch(own)
	m.releaseBatch(fetched)
	if n := m.inflight.InUse(); n != 0 {
		t.Errorf("budget holds %d bytes after every batch was given back", n)
	}
}
