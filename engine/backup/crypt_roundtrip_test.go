package backup_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"gocloud.dev/blob"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/crypt"
	"github.com/kbackup/kbackup/store/storetest"
)

// TestEncryptedBackupRoundTrip backs the sample topics of an embedded
// cluster up encrypted into each backend, reads every record back through
// a store opened anew with the key, checks every segment whole, and finds
// no topic name, record key or value in the raw bytes of any object.
func TestEncryptedBackupRoundTrip(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, url, _ string) {
		ctx := context.Background()
		addr, want := seededCluster(t)
		key := "base64key://" + base64.URLEncoding.EncodeToString(crypt.NewSalt())
		open, memBucket := encOpener(t, url, key)
		backupOnce(t, open(), addr)
		verifyEncrypted(t, open(), want)

		if _, err := open().CheckSegment(ctx, store.Loc{Topic: "nope", Version: 1}, "01J0000000000000000000000", -1); !store.IsNotFound(err) {
			t.Fatalf("missing segment: %v", err)
		}
		needles := sampleNeedles(t, addr)
		objs := 0
		eachRawObject(t, url, memBucket, func(key string, data []byte) {
			objs++
			for _, n := range needles {
				if bytes.Contains(data, n) {
					t.Errorf("object %s holds %q in its bytes", key, n)
					return
				}
			}
		})
		if objs < 10 {
			t.Fatalf("only %d objects in storage", objs)
		}
	})
}

// encOpener is opener for encrypted storage with the KEK at key; for mem
// it also returns the shared bucket.
func encOpener(t testing.TB, url, key string) (func() *store.Store, *blob.Bucket) {
	var memBucket *blob.Bucket
	if url == "" {
		b, err := blob.OpenBucket(context.Background(), "mem://")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		memBucket = b
	}
	return func() *store.Store {
		var st *store.Store
		var err error
		if memBucket != nil {
			st, err = store.NewWith(context.Background(), memBucket, store.Options{EncryptionKey: key})
		} else {
			st, err = store.OpenWith(context.Background(), url, store.Options{EncryptionKey: key})
			if err == nil {
				t.Cleanup(func() { st.Close() })
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		return st
	}, memBucket
}

// verifyEncrypted reads the whole encrypted backup and compares it with
// want; every indexed segment must pass CheckSegment with its index entry.
func verifyEncrypted(t testing.TB, st *store.Store, want map[string]uint64) {
	t.Helper()
	ctx := context.Background()
	topics, err := st.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, topic := range topics {
		m, err := st.ReadManifest(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		loc := store.Loc{Topic: topic, Version: m.Active}
		ix, err := st.ReadIndex(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ix.Segments {
			sc, err := st.CheckSegment(ctx, loc, e.ULID, e.StoredBytes)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Entry(e.ULID) != e {
				t.Fatalf("segment %s: scan %+v, index %+v", e.ULID, sc.Entry(e.ULID), e)
			}
		}
		for _, p := range ix.PartitionIDs() {
			err := st.Walk(ctx, loc, ix.Partition(p), store.Walk{Record: func(e *store.SegmentEntry, r *store.Record) error {
				k := recKey(topic, e.Partition, r.Offset)
				if _, dup := got[k]; dup {
					return errors.New("record stored twice: " + k)
				}
				got[k] = recHash(r.Key, r.Value, r.Timestamp)
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("backup holds %d records, the cluster %d", len(got), len(want))
	}
	for k, h := range want {
		if got[k] != h {
			t.Fatalf("record %s differs or is missing", k)
		}
	}
}

// sampleNeedles returns byte strings the raw objects must not hold: the
// topic names and the keys and values (of at least 6 bytes) of the first
// records of each topic.
func sampleNeedles(t testing.TB, addr string) [][]byte {
	t.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("orders", "events", "payments"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	needles := [][]byte{[]byte("orders"), []byte("events"), []byte("payments")}
	seen := map[string]int{}
	for len(seen) < 3 || seen["orders"] < 20 || seen["events"] < 20 || seen["payments"] < 20 {
		fs := cl.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatal(errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if seen[r.Topic] >= 20 {
				return
			}
			seen[r.Topic]++
			for _, b := range [][]byte{r.Key, r.Value} {
				if len(b) >= 6 {
					needles = append(needles, bytes.Clone(b))
				}
			}
		})
	}
	return needles
}

// eachRawObject calls fn with every object of the storage at url (or of
// the bucket mem, if set) as stored.
func eachRawObject(t testing.TB, url string, mem *blob.Bucket, fn func(key string, data []byte)) {
	t.Helper()
	ctx := context.Background()
	b := mem
	if b == nil {
		var err error
		if b, err = blob.OpenBucket(ctx, url); err != nil {
			t.Fatal(err)
		}
		defer b.Close()
	}
	it := b.List(nil)
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if o.IsDir || strings.HasSuffix(o.Key, ".tmp") {
			continue
		}
		data, err := b.ReadAll(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		fn(o.Key, data)
	}
}
