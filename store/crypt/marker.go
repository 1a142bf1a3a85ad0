package crypt

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"gocloud.dev/secrets"
	_ "gocloud.dev/secrets/localsecrets" // base64key:// URLs
)

const (
	// MarkerFormat is the marker format this package writes and reads.
	MarkerFormat = 1
	// MaxMarkerBytes bounds a marker object read from storage.
	MaxMarkerBytes = 64 << 10
	// maxWrappedKey bounds the wrapped master key (KMS ciphertexts are a
	// few hundred bytes).
	maxWrappedKey = 8 << 10
)

// Errors of the key-encryption key.
var (
	// ErrWrongKey means the key-encryption key cannot unwrap the backup's
	// master key, or unwraps a key that fails the check value.
	ErrWrongKey = errors.New("wrong encryption key")
	// ErrKeyUnreachable means the key service (a KMS, Vault) could not be
	// reached to unwrap the backup's key: the key may well be right.
	ErrKeyUnreachable = errors.New("key service unreachable")
)

// Marker is a backup's encryption marker: the master key wrapped by the
// KEK, the KEK's name (never the key) and a check value. It is JSON.
type Marker struct {
	Format int `json:"format"`
	// KEK names the key-encryption key that wrapped the key (KEKName), so
	// that an error can say which key the backup needs.
	KEK string `json:"kek"`
	// WrappedKey is the master key as the KEK's keeper encrypted it.
	WrappedKey []byte `json:"wrapped_key"`
	// Check is HMAC-SHA256(master key, "kbackup key check v1").
	Check []byte `json:"check"`
}

// ParseMarker decodes and checks a marker; it allocates at most about
// len(b).
func ParseMarker(b []byte) (*Marker, error) {
	if len(b) > MaxMarkerBytes {
		return nil, fmt.Errorf("encryption marker of %d bytes is above the limit of %d", len(b), MaxMarkerBytes)
	}
	var m Marker
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("encryption marker does not parse: %w", err)
	}
	switch {
	case m.Format > MarkerFormat:
		return nil, fmt.Errorf("encryption marker format %d is newer than this build's %d: upgrade kbackup", m.Format, MarkerFormat)
	case m.Format < 1:
		return nil, fmt.Errorf("encryption marker format %d is not valid", m.Format)
	case len(m.WrappedKey) == 0 || len(m.WrappedKey) > maxWrappedKey:
		return nil, fmt.Errorf("encryption marker holds a wrapped key of %d bytes (1 to %d allowed)", len(m.WrappedKey), maxWrappedKey)
	case len(m.Check) != 32:
		return nil, fmt.Errorf("encryption marker holds a check value of %d bytes, want 32", len(m.Check))
	case len(m.KEK) > 1024:
		return nil, fmt.Errorf("encryption marker names a key of %d bytes (at most 1024)", len(m.KEK))
	}
	return &m, nil
}

// Encode returns the marker as stored.
func (m *Marker) Encode() []byte {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(err) // a struct of strings and bytes always encodes
	}
	return append(b, '\n')
}

// Wrap returns the marker of k under the KEK keeper opened from kekURL.
func Wrap(ctx context.Context, kek *secrets.Keeper, kekURL string, k *Keyring) (*Marker, error) {
	w, err := kek.Encrypt(ctx, k.master[:])
	if err != nil {
		return nil, fmt.Errorf("encryption key %s cannot wrap the backup's key: %w", KEKName(kekURL), err)
	}
	return &Marker{Format: MarkerFormat, KEK: KEKName(kekURL), WrappedKey: w, Check: k.check()}, nil
}

// Unwrap returns the keyring of marker m, unwrapped by the KEK keeper
// opened from kekURL. A key that cannot unwrap it, or unwraps a key that
// fails the check, gives an error wrapping ErrWrongKey that names both
// keys; a key service that cannot be reached, one wrapping
// ErrKeyUnreachable.
func Unwrap(ctx context.Context, kek *secrets.Keeper, kekURL string, m *Marker) (*Keyring, error) {
	plain, err := kek.Decrypt(ctx, m.WrappedKey)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if unreachable(err) {
			return nil, fmt.Errorf("%w: encryption key %s: the key service did not answer: %v", ErrKeyUnreachable, KEKName(kekURL), err)
		}
		return nil, fmt.Errorf("%w: %s cannot unwrap the backup's key, wrapped by %s (%v)", ErrWrongKey, KEKName(kekURL), m.KEK, err)
	}
	if len(plain) != KeyLen {
		return nil, fmt.Errorf("%w: %s unwraps a key of %d bytes, not the backup's key (wrapped by %s)", ErrWrongKey, KEKName(kekURL), len(plain), m.KEK)
	}
	k := &Keyring{}
	copy(k.master[:], plain)
	if !hmac.Equal(k.check(), m.Check) {
		return nil, fmt.Errorf("%w: %s unwraps a key that fails the backup's check value (wrapped by %s)", ErrWrongKey, KEKName(kekURL), m.KEK)
	}
	return k, nil
}

// unreachable reports whether err of a keeper is a network failure (no
// connection, a timeout, a failed TLS handshake) rather than the key
// service's answer.
func unreachable(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue)
}

// OpenKEK opens the key-encryption key at a gocloud.dev/secrets URL. Its
// errors name the key by KEKName, never by its raw URL (a base64key URL is
// the key itself).
func OpenKEK(ctx context.Context, kekURL string) (*secrets.Keeper, error) {
	k, err := secrets.OpenKeeper(ctx, kekURL)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), kekURL, KEKName(kekURL))
		if u, perr := url.Parse(kekURL); perr == nil && u.Host != "" {
			msg = strings.ReplaceAll(msg, u.Host, "…")
		}
		return nil, fmt.Errorf("encryption key %s: %s", KEKName(kekURL), msg)
	}
	return k, nil
}

// KEKName names a key-encryption key URL without its secrets: the scheme
// alone for base64key:// (whose host is the key), otherwise the URL without
// user information or query.
func KEKName(kekURL string) string {
	u, err := url.Parse(kekURL)
	if err != nil || u.Scheme == "" {
		return "(unparsable key URL)"
	}
	if u.Scheme == "base64key" {
		return "base64key://…"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
