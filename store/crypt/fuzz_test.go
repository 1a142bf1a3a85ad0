package crypt

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseMarker decodes arbitrary marker objects: an error or a marker
// within the limits, never a panic.
func FuzzParseMarker(f *testing.F) {
	k := NewKeyring()
	f.Add((&Marker{Format: 1, KEK: "base64key://…", WrappedKey: bytes.Repeat([]byte{7}, 72), Check: k.check()}).Encode())
	f.Add([]byte(`{"format":1,"wrapped_key":"AA==","check":"AA=="}`))
	f.Add([]byte(`{"format":99}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMarker(b)
		if err != nil {
			return
		}
		if len(m.WrappedKey) == 0 || len(m.WrappedKey) > maxWrappedKey || len(m.Check) != 32 || m.Format != MarkerFormat {
			t.Fatalf("accepted marker outside the limits: %+v", m)
		}
		if _, err := ParseMarker(m.Encode()); err != nil {
			t.Fatalf("re-encoded marker does not parse: %v", err)
		}
	})
}

// FuzzOpenObject opens arbitrary bytes as a sealed object: only what
// SealObject made for that key opens; anything else is an error.
func FuzzOpenObject(f *testing.F) {
	var master [KeyLen]byte
	k := &Keyring{master: master}
	f.Add("t/manifest.d/0000000000000001", k.SealObject("t/manifest.d/0000000000000001", []byte("format: 3\n")))
	f.Add("t/x", []byte(objectMagic))
	f.Add("t/x", []byte("format: 2\n"))
	f.Fuzz(func(t *testing.T, key string, b []byte) {
		out, err := k.OpenObject(key, b)
		if err != nil {
			if IsSealedObject(b) && len(b) >= ObjectOverhead && !errors.Is(err, ErrAuth) {
				t.Fatalf("sealed-looking object failed with %v, not ErrAuth", err)
			}
			return
		}
		if len(out) != len(b)-ObjectOverhead {
			t.Fatalf("opened %d bytes from %d", len(out), len(b))
		}
	})
}

// FuzzSegmentOpen opens arbitrary frames: only the sealed frame at its own
// place opens.
func FuzzSegmentOpen(f *testing.F) {
	var master [KeyLen]byte
	k := &Keyring{master: master}
	salt := make([]byte, SaltLen)
	s := must(k.Segment("01HSEG", salt))
	f.Add(KindBlock, uint32(0), int64(48), s.Seal(nil, KindBlock, 0, 48, []byte("block")))
	f.Add(KindFooter, uint32(1), int64(200), s.Seal(nil, KindFooter, 1, 200, []byte("footer")))
	f.Fuzz(func(t *testing.T, kind byte, index uint32, pos int64, b []byte) {
		out, err := s.Open(nil, kind, index, pos, b)
		if err != nil {
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("error %v is not ErrAuth", err)
			}
			return
		}
		if len(out) != len(b)-Overhead {
			t.Fatalf("opened %d bytes from %d", len(out), len(b))
		}
	})
}
