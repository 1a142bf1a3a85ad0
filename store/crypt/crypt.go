// Package crypt is kbackup's client-side encryption: envelope encryption of
// a backup's objects with AES-256-GCM, under a key-encryption key (KEK) from
// gocloud.dev/secrets.
//
// A backup has one random 256-bit master key. It is stored only wrapped by
// the KEK, in the backup's marker object (Marker), so the KEK is asked once
// per process, and rotating the KEK rewrites that one object and nothing
// else. Every object gets a key of its own: HKDF-SHA256 of the master key
// with a random 256-bit salt stored in the object and the object's identity
// (segment ID, or object key) as info. So no two objects share a data key,
// a nonce never repeats under a key, and an object moved to another key or
// another segment's place fails to open.
//
// Segments are sealed block by block (Segment): the nonce is derived from
// the frame's kind and index, and the authenticated data binds the segment
// ID, the kind, the index and the byte position, so that frames cannot be
// swapped, replayed, moved or dropped without detection.
// docs/storage-format.md §10 specifies every byte.
package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// KeyLen is the length of the master key and of every data key.
	KeyLen = 32
	// SaltLen is the length of the random salt a data key is derived with.
	SaltLen = 32
	// Overhead is what AES-GCM adds to every sealed message (its tag).
	Overhead = 16
	// ObjectOverhead is what SealObject adds to a small object.
	ObjectOverhead = len(objectMagic) + SaltLen + Overhead

	objectMagic = "KBKOBJ01"
	segmentInfo = "kbackup segment v1\x00"
	objectInfo  = "kbackup object v1\x00"
	checkInfo   = "kbackup key check v1"
)

// Frame kinds of a sealed segment (docs/storage-format.md §10.2).
const (
	KindBlock  byte = 'B'
	KindFooter byte = 'F'
)

// ErrAuth means sealed bytes failed authentication: they were damaged,
// moved, swapped, truncated or sealed under another key.
var ErrAuth = errors.New("message authentication failed")

// Keyring holds a backup's master key. It is safe for concurrent use.
type Keyring struct {
	master [KeyLen]byte
}

// NewKeyring returns a keyring with a new random master key.
func NewKeyring() *Keyring {
	k := &Keyring{}
	if _, err := rand.Read(k.master[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return k
}

// check returns the key check value: an HMAC of a constant under the
// master key, which proves an unwrapped key is the right one.
func (k *Keyring) check() []byte {
	m := hmac.New(sha256.New, k.master[:])
	m.Write([]byte(checkInfo))
	return m.Sum(nil)
}

// derive returns an AES-256-GCM AEAD under the key HKDF-SHA256(master,
// salt, info).
func (k *Keyring) derive(salt []byte, info string) (cipher.AEAD, error) {
	if len(salt) != SaltLen {
		return nil, fmt.Errorf("salt of %d bytes, want %d", len(salt), SaltLen)
	}
	key, err := hkdf.Key(sha256.New, k.master[:], salt, info, KeyLen)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// NewSalt returns a new random salt.
func NewSalt() []byte {
	s := make([]byte, SaltLen)
	if _, err := rand.Read(s); err != nil {
		panic(err)
	}
	return s
}

// Segment seals and opens the frames of one segment. It is safe for
// concurrent use.
type Segment struct {
	aead cipher.AEAD
	id   string
}

// Segment returns the sealer of segment id whose salt is salt (NewSalt for
// a new segment; the stored one to read).
func (k *Keyring) Segment(id string, salt []byte) (*Segment, error) {
	a, err := k.derive(salt, segmentInfo+id)
	if err != nil {
		return nil, fmt.Errorf("segment %s key: %w", id, err)
	}
	return &Segment{aead: a, id: id}, nil
}

// nonceAD returns the nonce and authenticated data of frame (kind, index)
// at byte pos. The nonce is unique per frame of the segment, whose key is
// used for no other segment.
func (s *Segment) nonceAD(kind byte, index uint32, pos int64) (nonce [12]byte, ad []byte) {
	nonce[0] = kind
	binary.BigEndian.PutUint32(nonce[8:], index)
	ad = make([]byte, 0, 1+4+8+len(s.id))
	ad = append(ad, kind)
	ad = binary.BigEndian.AppendUint32(ad, index)
	ad = binary.BigEndian.AppendUint64(ad, uint64(pos))
	ad = append(ad, s.id...)
	return nonce, ad
}

// Seal appends to dst frame (kind, index) at byte pos holding plain, sealed:
// len(plain)+Overhead bytes.
func (s *Segment) Seal(dst []byte, kind byte, index uint32, pos int64, plain []byte) []byte {
	nonce, ad := s.nonceAD(kind, index, pos)
	return s.aead.Seal(dst, nonce[:], plain, ad)
}

// Open appends to dst the plain bytes of frame (kind, index) read at byte
// pos. Any change to the frame, its place or its segment fails with ErrAuth.
func (s *Segment) Open(dst []byte, kind byte, index uint32, pos int64, sealed []byte) ([]byte, error) {
	nonce, ad := s.nonceAD(kind, index, pos)
	out, err := s.aead.Open(dst, nonce[:], sealed, ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// SealObject seals a small object to be stored under key:
// "KBKOBJ01" | salt | AES-256-GCM(plain). The key derivation binds the
// object key, so the object opens only where it was written.
func (k *Keyring) SealObject(key string, plain []byte) []byte {
	salt := NewSalt()
	a, err := k.derive(salt, objectInfo+key)
	if err != nil {
		panic(err) // only a salt of the wrong length fails
	}
	out := make([]byte, 0, ObjectOverhead+len(plain))
	out = append(out, objectMagic...)
	out = append(out, salt...)
	var nonce [12]byte // the key is used once
	return a.Seal(out, nonce[:], plain, nil)
}

// IsSealedObject reports whether b starts like a sealed object.
func IsSealedObject(b []byte) bool {
	return len(b) >= len(objectMagic) && string(b[:len(objectMagic)]) == objectMagic
}

// OpenObject opens an object SealObject sealed for key. It allocates at
// most len(b).
func (k *Keyring) OpenObject(key string, b []byte) ([]byte, error) {
	if !IsSealedObject(b) {
		return nil, errors.New("not an encrypted object (plain data in an encrypted backup)")
	}
	if len(b) < ObjectOverhead {
		return nil, fmt.Errorf("encrypted object of %d bytes is too short", len(b))
	}
	salt := b[len(objectMagic) : len(objectMagic)+SaltLen]
	a, err := k.derive(salt, objectInfo+key)
	if err != nil {
		return nil, err
	}
	var nonce [12]byte
	out, err := a.Open(nil, nonce[:], b[len(objectMagic)+SaltLen:], nil)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// KeyringFromBytes returns the keyring of a master key given as bytes, for
// tests and tools that hold a key already unwrapped.
func KeyringFromBytes(master []byte) (*Keyring, error) {
	if len(master) != KeyLen {
		return nil, fmt.Errorf("master key of %d bytes, want %d", len(master), KeyLen)
	}
	k := &Keyring{}
	copy(k.master[:], master)
	return k, nil
}
