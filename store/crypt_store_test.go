package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store/crypt"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"
)

// newKeyURL returns a base64key:// URL of a new random key.
func newKeyURL() string {
	return "base64key://" + base64.URLEncoding.EncodeToString(crypt.NewSalt())
}

// fastRetry is defaultRetry with millisecond back-offs, for tests whose
// reads fail on purpose and are retried.
var fastRetry = retryPolicy{attempts: defaultRetry.attempts, base: time.Millisecond, max: 4 * time.Millisecond, timeout: defaultRetry.timeout}

// encStore opens a store on b with the KEK at key.
func encStore(t testing.TB, b *blob.Bucket, key string) *Store {
	t.Helper()
	s, err := NewWith(context.Background(), b, Options{EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// secretRecords are records whose keys and values are easy to look for in
// raw bytes, over several blocks of equal size.
func secretRecords(n int) []Record {
	var rs []Record
	for i := 0; i < n; i++ {
		rs = append(rs, Record{Offset: int64(100 + i), Timestamp: baseTime.Add(time.Duration(i) * time.Second),
			Key:     fmt.Appendf(nil, "card-holder-%04d", i),
			Value:   fmt.Appendf(nil, "iban DE%018d", i),
			Headers: []Header{{Key: "trace", Value: []byte("secret-header")}}})
	}
	return rs
}

// writeSeg writes rs as segment id of loc under a lease and indexes it.
func writeSeg(t testing.TB, s *Store, loc Loc, id string, rs []Record, blockSize int) SegmentEntry {
	t.Helper()
	ctx := context.Background()
	l, err := s.AcquireLease(ctx, loc.Topic, "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	up, err := s.CreateSegment(ctx, l, loc, SegmentOptions{ID: id, Partition: 2, Start: rs[0].Offset, Codec: CodecNone, BlockSize: blockSize})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		if err := up.Append(&rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	e, err := up.Commit()
	if err != nil {
		t.Fatal(err)
	}
	iw, err := s.OpenIndexWriter(ctx, l, loc)
	if err != nil {
		t.Fatal(err)
	}
	if err := iw.Append(ctx, e); err != nil {
		t.Fatal(err)
	}
	return e
}

// walkAll reads every record of the index of loc through Walk from from.
func walkAll(t testing.TB, s *Store, loc Loc, from int64) []Record {
	t.Helper()
	ctx := context.Background()
	ix, err := s.ReadIndex(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	if err := s.Walk(ctx, loc, ix.Partition(2), Walk{From: from, Record: func(_ *SegmentEntry, r *Record) error {
		out = append(out, cloneRecord(r))
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	return out
}

// rawObjects returns every object of b.
func rawObjects(t testing.TB, b *blob.Bucket) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	it := b.List(nil)
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := b.ReadAll(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		out[o.Key] = data
	}
}

// TestEncryptedRoundTrip writes a segment and its index encrypted, reads it
// back through a second store with the same key (Walk from the start and
// from the middle, CheckSegment), and finds no topic name, record key,
// value or header, and no index field name, in any object's bytes.
func TestEncryptedRoundTrip(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	key := newKeyURL()
	s := encStore(t, b, key)
	loc := Loc{Topic: "payments-eu", Version: 1}
	rs := secretRecords(40)
	e := writeSeg(t, s, loc, "01JSEGMENT0000000000000001", rs, 300)

	r := encStore(t, b, key)
	got := walkAll(t, r, loc, 0)
	if len(got) != len(rs) {
		t.Fatalf("read %d records, wrote %d", len(got), len(rs))
	}
	for i := range rs {
		sameRecord(t, &got[i], &rs[i])
	}
	if mid := walkAll(t, r, loc, 125); len(mid) != 15 || mid[0].Offset != 125 {
		t.Fatalf("walk from 125: %d records", len(mid))
	}
	sr, err := r.OpenSegment(ctx, loc, e.ULID, e.StoredBytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.Info.Blocks) < 4 {
		t.Fatalf("%d blocks, want several", len(sr.Info.Blocks))
	}
	sc, err := r.CheckSegment(ctx, loc, e.ULID, -1)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Entry(e.ULID) != e {
		t.Fatalf("scan entry %+v, committed %+v", sc.Entry(e.ULID), e)
	}

	secrets := []string{loc.Topic, "card-holder", "iban DE", "secret-header", "trace", "ulid", "partition", "first_offset", "holder", "token"}
	for k, data := range rawObjects(t, b) {
		for _, sec := range secrets {
			if bytes.Contains(data, []byte(sec)) {
				t.Errorf("object %s holds %q", k, sec)
			}
		}
	}
	var checked []string
	if err := r.CheckKey(ctx, func(k string, err error) {
		if err != nil {
			t.Errorf("CheckKey %s: %v", k, err)
		}
		checked = append(checked, k)
	}); err != nil {
		t.Fatal(err)
	}
	if len(checked) < 3 { // segment, index head, lease entries
		t.Fatalf("CheckKey checked %v", checked)
	}
}

// TestEncryptedSegmentTamper: a flipped byte in any block, the footer or
// the trailer, two swapped blocks, a block from another segment, and
// truncation each make CheckSegment fail with ErrCorrupt naming the
// object; the seek path (Walk) fails too where it reads the damage.
func TestEncryptedSegmentTamper(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	s := encStore(t, b, newKeyURL())
	// A truncated object fails its ranged reads, which are retried as
	// transient: the same attempts with millisecond back-offs (2.5 s per
	// case with the default policy).
	s.b.policy = fastRetry
	loc := Loc{Topic: "t", Version: 1}
	e := writeSeg(t, s, loc, "01JSEGMENT0000000000000001", secretRecords(40), 300)
	other := writeSeg(t, s, Loc{Topic: "t", Version: 2}, "01JSEGMENT0000000000000002", secretRecords(40), 300)
	key := loc.segmentKey(e.ULID)
	orig, err := b.ReadAll(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	otherData, err := b.ReadAll(ctx, Loc{Topic: "t", Version: 2}.segmentKey(other.ULID))
	if err != nil {
		t.Fatal(err)
	}
	sr, err := s.OpenSegment(ctx, loc, e.ULID, -1)
	if err != nil {
		t.Fatal(err)
	}
	blocks := sr.Info.Blocks
	frame := func(i int) (int64, int64) {
		return blocks[i].Pos, blocks[i].Pos + sealedBlockOverhead + int64(blocks[i].StoredLen)
	}
	_, footerPos := frame(len(blocks) - 1)
	flip := func(at int64) func([]byte) []byte {
		return func(d []byte) []byte { d[at] ^= 0x40; return d }
	}
	type tc struct {
		name string
		mod  func([]byte) []byte
		seek bool // the seek path reads the damage too
	}
	cases := []tc{
		{"flipped salt in header", flip(20), false},
		{"flipped footer", flip(footerPos + 10), true},
		{"flipped trailer salt", flip(int64(len(orig)) - sealedTrailerLen + 3), true},
		{"truncated by one byte", func(d []byte) []byte { return d[:len(d)-1] }, true},
		{"footer and trailer cut off", func(d []byte) []byte { return d[:footerPos] }, true},
		{"last block dropped", func(d []byte) []byte {
			p, q := frame(len(blocks) - 1)
			return append(d[:p:p], d[q:]...)
		}, true},
	}
	for i := range blocks {
		p, q := frame(i)
		cases = append(cases, tc{fmt.Sprintf("flipped byte in block %d", i), flip((p + q) / 2), true})
		cases = append(cases, tc{fmt.Sprintf("frame length of block %d", i), flip(p + 2), true})
	}
	p0, q0 := frame(0)
	p1, q1 := frame(1)
	if q0-p0 != q1-p1 {
		t.Fatalf("blocks 0 and 1 differ in size (%d, %d): cannot swap", q0-p0, q1-p1)
	}
	cases = append(cases, tc{"blocks 0 and 1 swapped", func(d []byte) []byte {
		b0 := bytes.Clone(d[p0:q0])
		copy(d[p0:q0], d[p1:q1])
		copy(d[p1:q1], b0)
		return d
	}, true})
	cases = append(cases, tc{"block 1 replayed from another segment", func(d []byte) []byte {
		copy(d[p1:q1], otherData[p1:q1])
		return d
	}, true})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := b.WriteAll(ctx, key, c.mod(bytes.Clone(orig)), nil); err != nil {
				t.Fatal(err)
			}
			_, err := s.CheckSegment(ctx, loc, e.ULID, -1)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), key) {
				t.Fatalf("CheckSegment: %v, want ErrCorrupt naming %s", err, key)
			}
			if !c.seek {
				return
			}
			ix, err := s.ReadIndex(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			werr := s.Walk(ctx, loc, ix.Partition(2), Walk{Record: func(*SegmentEntry, *Record) error { return nil }})
			// A truncated object is shorter than the index says: the
			// ranged read fails before anything is authenticated.
			if werr == nil || !strings.Contains(werr.Error(), key) {
				t.Fatalf("Walk: %v, want an error naming %s", werr, key)
			}
		})
	}
}

// TestEncryptionKeys: a wrong key, a missing key, a key given for a plain
// backup, and plain objects in an encrypted backup each fail with one
// clear error naming the key by its safe name; rotation re-wraps the key
// so that only the new KEK opens the storage, while a store opened before
// keeps writing what the new key reads.
func TestEncryptionKeys(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	key := newKeyURL()
	secret := strings.TrimPrefix(key, "base64key://")
	s := encStore(t, b, key)
	loc := Loc{Topic: "orders", Version: 1}
	writeSeg(t, s, loc, "01JSEGMENT0000000000000001", secretRecords(10), 0)

	t.Run("wrong key", func(t *testing.T) {
		wrong := newKeyURL()
		_, err := NewWith(ctx, b, Options{EncryptionKey: wrong})
		if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "base64key://…") ||
			strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), strings.TrimPrefix(wrong, "base64key://")) {
			t.Fatalf("wrong key: %v", err)
		}
		t.Log(err)
	})
	t.Run("missing key", func(t *testing.T) {
		p := New(b)
		_, err := p.AcquireLease(ctx, "orders", "plain writer", time.Minute)
		if !errors.Is(err, ErrEncrypted) || !strings.Contains(err.Error(), "--encryption-key") || !strings.Contains(err.Error(), "base64key://…") {
			t.Fatalf("plain lease on encrypted storage: %v", err)
		}
		t.Log(err)
		if _, err := p.AcquireLease(ctx, "newtopic", "plain writer", time.Minute); !errors.Is(err, ErrEncrypted) {
			t.Fatalf("plain lease of a new topic on encrypted storage: %v", err)
		}
		if _, err := p.ReadIndex(ctx, loc); !errors.Is(err, ErrEncrypted) {
			t.Fatalf("plain read of an encrypted index: %v", err)
		}
		if _, err := p.OpenSegment(ctx, loc, "01JSEGMENT0000000000000001", -1); !errors.Is(err, ErrEncrypted) {
			t.Fatalf("plain read of an encrypted segment: %v", err)
		}
		if _, err := p.CheckSegment(ctx, loc, "01JSEGMENT0000000000000001", -1); !errors.Is(err, ErrEncrypted) {
			t.Fatalf("plain check of an encrypted segment: %v", err)
		}
		// Opened through NewWith (as every command opens storage), a
		// missing key fails at once, before anything reads or mounts.
		_, err = NewWith(ctx, b, Options{})
		if !errors.Is(err, ErrEncrypted) || !strings.Contains(err.Error(), "--encryption-key") || !strings.Contains(err.Error(), "base64key://…") {
			t.Fatalf("NewWith without a key on encrypted storage: %v", err)
		}
		if _, err := NewWith(ctx, memblob.OpenBucket(nil), Options{}); err != nil {
			t.Fatalf("NewWith without a key on empty storage: %v", err)
		}
	})
	t.Run("key for a plain backup", func(t *testing.T) {
		pb := memblob.OpenBucket(nil)
		writeSeg(t, New(pb), loc, "01JSEGMENT0000000000000001", secretRecords(10), 0)
		_, err := NewWith(ctx, pb, Options{EncryptionKey: key})
		if !errors.Is(err, ErrNotEncrypted) || strings.Contains(err.Error(), secret) {
			t.Fatalf("key for a plain backup: %v", err)
		}
		t.Log(err)
	})
	t.Run("plain objects in an encrypted backup", func(t *testing.T) {
		eb := memblob.OpenBucket(nil)
		es := encStore(t, eb, key)
		id := "01JSEGMENT0000000000000009"
		plain := writeSegment(t, CodecNone, 0, 100, secretRecords(3), 0)
		if err := eb.WriteAll(ctx, loc.segmentKey(id), plain.data, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := es.CheckSegment(ctx, loc, id, -1); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "plain segment") {
			t.Fatalf("plain segment: %v", err)
		}
		if _, err := es.OpenSegment(ctx, loc, id, -1); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("plain segment opened: %v", err)
		}
		if err := eb.WriteAll(ctx, registerKey(loc.headsKey(), 1), []byte(`{"format":2,"topic":"orders","version":1,"seq":1,"sealed_parts":0,"partitions":{},"segments":[]}`), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := es.ReadIndex(ctx, loc); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not an encrypted object") {
			t.Fatalf("plain index head: %v", err)
		}
	})
	t.Run("rotate", func(t *testing.T) {
		newKey := newKeyURL()
		if err := encStore(t, b, key).RotateKey(ctx, newKey); err != nil {
			t.Fatal(err)
		}
		if _, err := NewWith(ctx, b, Options{EncryptionKey: key}); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("old key after rotation: %v", err)
		}
		// s was opened before the rotation: it keeps writing.
		writeSeg(t, s, loc, "01JSEGMENT0000000000000002", secretRecords(10)[5:], 0)
		n := encStore(t, b, newKey)
		if got := walkAll(t, n, loc, 0); len(got) != 15 {
			t.Fatalf("after rotation: %d records, want 15", len(got))
		}
		if err := n.CheckKey(ctx, func(k string, err error) {
			if err != nil {
				t.Errorf("%s: %v", k, err)
			}
		}); err != nil {
			t.Fatal(err)
		}
	})
}
