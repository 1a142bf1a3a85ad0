package webdav

import (
	"bufio"
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Auth authenticates requests: HTTP basic against bcrypt hashes (an
// htpasswd file made with htpasswd -B), or a bearer token. A zero Auth
// lets every request in as the anonymous user "".
type Auth struct {
	// Users maps a user name to its bcrypt hash.
	Users map[string][]byte
	// Token, when set, is accepted as "Authorization: Bearer TOKEN" for
	// the user TokenUser.
	Token     string
	TokenUser string
	// RestoreUsers may start and cancel restores; empty means every
	// authenticated user (and, without authentication, everyone).
	RestoreUsers []string
}

// Enabled reports whether requests must authenticate.
func (a *Auth) Enabled() bool { return len(a.Users) > 0 || a.Token != "" }

// ParseHtpasswd reads an htpasswd file of bcrypt hashes (user:$2y$…).
// Other hash kinds are refused: they are not safe to store.
func ParseHtpasswd(r io.Reader) (map[string][]byte, error) {
	users := map[string][]byte{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("htpasswd line %d: want user:bcrypt-hash", n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("htpasswd line %d (user %s): not a bcrypt hash (htpasswd -B makes them): %v", n, user, err)
		}
		users[user] = []byte(hash)
	}
	return users, sc.Err()
}

type userKey struct{}

// user returns the authenticated user of r.
func user(r *http.Request) (string, bool) {
	u, ok := r.Context().Value(userKey{}).(string)
	return u, ok
}

// Wrap returns h behind authentication: a request without valid
// credentials gets 401 with a Basic challenge.
func (a *Auth) Wrap(h http.Handler) http.Handler {
	if !a.Enabled() {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, "")))
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.check(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="kbackup", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

func (a *Auth) check(r *http.Request) (string, bool) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && a.Token != "" {
		return a.TokenUser, subtle.ConstantTimeCompare([]byte(tok), []byte(a.Token)) == 1
	}
	u, pw, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	hash, known := a.Users[u]
	if !known {
		hash = dummyHash // spend the same time for unknown users
	}
	return u, bcrypt.CompareHashAndPassword(hash, []byte(pw)) == nil && known
}

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.MinCost)

// MayRestore is Options.MayRestore for this Auth: the request's user is
// in RestoreUsers, or RestoreUsers is empty.
func (a *Auth) MayRestore(r *http.Request) bool {
	u, ok := user(r)
	if !ok {
		return false
	}
	return len(a.RestoreUsers) == 0 || slices.Contains(a.RestoreUsers, u)
}

// CheckListen refuses to serve addr beyond loopback without TLS and
// authentication (ErrInsecure).
func CheckListen(addr string, tls bool, a *Auth) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	if !tls || !a.Enabled() {
		return fmt.Errorf("%w: --listen %s is not a loopback address", ErrInsecure, addr)
	}
	return nil
}
