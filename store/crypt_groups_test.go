package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestEncryptedGroupCaptures checks that consumer-group captures of an
// encrypted backup are sealed: the raw object names no group, and it reads
// back only with the key; a copy moved to another capture's key does not
// open (its key is bound into the sealing).
func TestEncryptedGroupCaptures(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := newKeyURL()
	s, err := OpenWith(ctx, "file://"+dir, Options{EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	loc := Loc{Topic: "orders", Version: 1}
	l, err := s.AcquireLease(ctx, loc.Topic, "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 2 {
		c := GroupCapture{Time: t0.Add(time.Duration(i) * time.Minute), Offsets: []GroupOffset{
			{Group: "payments-secret-group", Partition: 0, Offset: int64(4711 + i), LeaderEpoch: -1, LogEnd: 9999},
		}}
		if err := s.PutGroupCapture(ctx, l, loc, c); err != nil {
			t.Fatal(err)
		}
	}
	refs, err := s.GroupCaptures(ctx, loc)
	if err != nil || len(refs) != 2 {
		t.Fatalf("GroupCaptures = %d, %v; want 2", len(refs), err)
	}
	c, err := s.ReadGroupCapture(ctx, refs[1])
	if err != nil || c.Offsets[0].Group != "payments-secret-group" || c.Offsets[0].Offset != 4712 {
		t.Fatalf("ReadGroupCapture = %+v, %v", c, err)
	}
	raw := make([][]byte, len(refs))
	for i, r := range refs {
		if raw[i], err = os.ReadFile(filepath.Join(dir, filepath.FromSlash(r.key))); err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"payments-secret-group", "4711", "4712", "9999", "orders"} {
			if bytes.Contains(raw[i], []byte(w)) {
				t.Errorf("capture %s holds %q in plaintext", r.key, w)
			}
		}
	}
	if _, err := New(s.b.Bucket).ReadGroupCapture(ctx, refs[0]); !errors.Is(err, ErrEncrypted) {
		t.Errorf("read without the key: %v, want ErrEncrypted", err)
	}
	// The older capture's bytes under the newer capture's key: refused.
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(refs[1].key)), raw[0], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadGroupCapture(ctx, refs[1]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a capture moved to another key: %v, want ErrCorrupt", err)
	}
}
