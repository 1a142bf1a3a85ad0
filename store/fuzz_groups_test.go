package store

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store/storetest/fuzzcheck"
)

// FuzzGroupCapture decodes arbitrary capture objects: an error wrapping
// ErrCorrupt, or a capture whose every offset could be committed, which
// encodes and decodes to itself; memory stays within a small multiple of
// the input (a struct per offset, from as little as "{}").
func FuzzGroupCapture(f *testing.F) {
	good, err := json.Marshal(GroupCapture{Time: time.Date(2026, 12, 2, 23, 0, 0, 123, time.UTC), Offsets: []GroupOffset{
		{Group: "billing", Partition: 0, Offset: 1200, LeaderEpoch: 3, LogStart: 0, LogEnd: 1500},
		{Group: "billing", Partition: 1, Offset: 980, LeaderEpoch: -1, Metadata: "m", LogStart: -1, LogEnd: -1},
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"time":"2026-12-02T23:00:00Z","offsets":[{"group":"","partition":0,"offset":1}]}`))
	f.Add([]byte(`{"offsets":[{"group":"g","partition":-1,"offset":-2}]}`))
	f.Add([]byte(`{"offsets":[{},{},{},{},{},{},{},{}]}`))
	f.Add([]byte(`{"time":"x"}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c *GroupCapture
		var err error
		fuzzcheck.Bounded(t, "parse group capture", fuzzcheck.Base+256*uint64(len(data)), func() { c, err = parseGroupCapture("k", data) })
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		for _, o := range c.Offsets {
			if o.Group == "" || o.Partition < 0 || o.Offset < -1 {
				t.Fatalf("accepted offset %+v", o)
			}
		}
		b, err := json.Marshal(c)
		if err != nil {
			return // a time json cannot encode (year past 9999): the writer never made it
		}
		again, err := parseGroupCapture("k", b)
		if err != nil {
			t.Fatalf("re-encoded capture does not parse: %v", err)
		}
		if !again.Time.Equal(c.Time) || !reflect.DeepEqual(again.Offsets, c.Offsets) {
			t.Fatalf("round trip changed the capture:\n%+v\n%+v", c, again)
		}
	})
}
