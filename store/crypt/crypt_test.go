package crypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"gocloud.dev/secrets"
)

// testKEK returns a base64key:// URL of a random key and its keeper.
func testKEK(t *testing.T) (string, *secrets.Keeper) {
	t.Helper()
	u := "base64key://" + base64.URLEncoding.EncodeToString(NewSalt())
	k, err := OpenKEK(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return u, k
}

func TestSegmentFrames(t *testing.T) {
	k := NewKeyring()
	salt := NewSalt()
	s, err := k.Segment("01HSEG", salt)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("a block header and its payload")
	sealed := s.Seal(nil, KindBlock, 3, 4096, plain)
	if len(sealed) != len(plain)+Overhead || bytes.Contains(sealed, []byte("payload")) {
		t.Fatalf("sealed frame of %d bytes: %q", len(sealed), sealed)
	}
	got, err := s.Open(nil, KindBlock, 3, 4096, sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := k.Segment("01HOTHER", salt)
	otherSalt, _ := k.Segment("01HSEG", NewSalt())
	flipped := bytes.Clone(sealed)
	flipped[5] ^= 1
	for _, tc := range []struct {
		name  string
		s     *Segment
		kind  byte
		index uint32
		pos   int64
		b     []byte
	}{
		{"other kind", s, KindFooter, 3, 4096, sealed},
		{"other index (swapped)", s, KindBlock, 4, 4096, sealed},
		{"other position (moved)", s, KindBlock, 3, 4097, sealed},
		{"other segment (replayed)", other, KindBlock, 3, 4096, sealed},
		{"other salt", otherSalt, KindBlock, 3, 4096, sealed},
		{"flipped byte", s, KindBlock, 3, 4096, flipped},
		{"truncated", s, KindBlock, 3, 4096, sealed[:len(sealed)-1]},
		{"other master key", must(NewKeyring().Segment("01HSEG", salt)), KindBlock, 3, 4096, sealed},
	} {
		if _, err := tc.s.Open(nil, tc.kind, tc.index, tc.pos, tc.b); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: Open = %v, want ErrAuth", tc.name, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestObject(t *testing.T) {
	k := NewKeyring()
	plain := []byte(`{"topic":"payments"}`)
	b := k.SealObject("payments/manifest.d/0000000000000001", plain)
	if bytes.Contains(b, []byte("payments")) || len(b) != len(plain)+ObjectOverhead || !IsSealedObject(b) {
		t.Fatalf("sealed object %q", b)
	}
	if b2 := k.SealObject("payments/manifest.d/0000000000000001", plain); bytes.Equal(b, b2) {
		t.Fatal("two seals of one object are equal: the salt is not random")
	}
	got, err := k.OpenObject("payments/manifest.d/0000000000000001", b)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("OpenObject = %q, %v", got, err)
	}
	if _, err := k.OpenObject("payments/manifest.d/0000000000000002", b); !errors.Is(err, ErrAuth) {
		t.Errorf("object replayed as another register entry: %v, want ErrAuth", err)
	}
	if _, err := NewKeyring().OpenObject("payments/manifest.d/0000000000000001", b); !errors.Is(err, ErrAuth) {
		t.Errorf("other key: %v, want ErrAuth", err)
	}
	if _, err := k.OpenObject("k", plain); err == nil || !strings.Contains(err.Error(), "not an encrypted object") {
		t.Errorf("plain object: %v", err)
	}
	if _, err := k.OpenObject("k", []byte(objectMagic+"short")); err == nil {
		t.Error("short object opened")
	}
}

func TestMarker(t *testing.T) {
	ctx := context.Background()
	u, kek := testKEK(t)
	k := NewKeyring()
	m, err := Wrap(ctx, kek, u, k)
	if err != nil {
		t.Fatal(err)
	}
	enc := m.Encode()
	if bytes.Contains(enc, k.master[:]) || strings.Contains(string(enc), strings.TrimPrefix(u, "base64key://")) {
		t.Fatalf("marker holds the key: %s", enc)
	}
	m2, err := ParseMarker(enc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unwrap(ctx, kek, u, m2)
	if err != nil || got.master != k.master {
		t.Fatalf("Unwrap = %v", err)
	}

	u2, kek2 := testKEK(t)
	_, err = Unwrap(ctx, kek2, u2, m2)
	if !errors.Is(err, ErrWrongKey) || strings.Contains(err.Error(), strings.TrimPrefix(u2, "base64key://")) {
		t.Fatalf("wrong key: %v", err)
	}
	// Rotation: the same master key under another KEK.
	m3, err := Wrap(ctx, kek2, u2, got)
	if err != nil {
		t.Fatal(err)
	}
	if got3, err := Unwrap(ctx, kek2, u2, m3); err != nil || got3.master != k.master {
		t.Fatalf("after rotation: %v", err)
	}
	bad := *m2
	bad.Check = bytes.Repeat([]byte{1}, 32)
	if _, err := Unwrap(ctx, kek, u, &bad); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("bad check value: %v", err)
	}
}

func TestParseMarkerRejects(t *testing.T) {
	for _, in := range []string{
		``, `{}`, `[]`, `{"format":2,"wrapped_key":"AA==","check":"` + strings.Repeat("A", 43) + `="}`,
		`{"format":1,"wrapped_key":"","check":"` + strings.Repeat("A", 43) + `="}`,
		`{"format":1,"wrapped_key":"AA==","check":"AA=="}`,
		`{"format":1,"wrapped_key":"AA==","check":"` + strings.Repeat("A", 43) + `=","extra":1}`,
	} {
		if _, err := ParseMarker([]byte(in)); err == nil {
			t.Errorf("ParseMarker(%s) accepted", in)
		}
	}
}

func TestKEKName(t *testing.T) {
	for in, want := range map[string]string{
		"base64key://smGbjm71Nxd1Ig5FS0wj9SlbzAIrnolCz9bQQ6uAhl4=": "base64key://…",
		"awskms://alias/backup?region=eu-west-1":                   "awskms://alias/backup",
		"hashivault://user:pw@mykey":                               "hashivault://mykey",
		"%zz":                                                      "(unparsable key URL)",
	} {
		if got := KEKName(in); got != want {
			t.Errorf("KEKName(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := OpenKEK(context.Background(), "base64key://c2hvcnQ=")
	if err == nil || strings.Contains(err.Error(), "c2hvcnQ") {
		t.Errorf("OpenKEK of a short key: %v", err)
	}
}
