package webdav

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestAuth(t *testing.T) {
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	users, err := ParseHtpasswd(strings.NewReader("# users\nalice:" + hash("wonder") + "\nbob:" + hash("builder") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseHtpasswd(strings.NewReader("carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")); err == nil || !strings.Contains(err.Error(), "htpasswd -B") {
		t.Errorf("a SHA1 htpasswd line: %v", err)
	}
	a := &Auth{Users: users, Token: "s3cret-token", TokenUser: "robot", RestoreUsers: []string{"alice", "robot"}}
	s := serve(t, Options{MayRestore: a.MayRestore})
	s.Config.Handler = a.Wrap(s.Config.Handler)

	req := func(method, path, user, pw, token string, hdr ...string) int {
		r, _ := http.NewRequest(method, s.URL+path, nil)
		if user != "" {
			r.SetBasicAuth(user, pw)
		}
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := noRedirect.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		name, method, path, user, pw, token string
		hdr                                 []string
		want                                int
	}{
		{"anonymous", "GET", "/topics/", "", "", "", nil, 401},
		{"wrong password", "GET", "/topics/", "alice", "nope", "", nil, 401},
		{"unknown user", "GET", "/topics/", "mallory", "wonder", "", nil, 401},
		{"wrong token", "GET", "/topics/", "", "", "guess", nil, 401},
		{"basic", "GET", "/topics/", "bob", "builder", "", nil, 200},
		{"token", "GET", "/topics/", "", "", "s3cret-token", nil, 200},
		{"reader may not restore", "COPY", "/topics/orders/snapshots/v1", "bob", "builder", "", []string{"Destination", "/restore/b"}, 403},
		{"restorer may", "COPY", "/topics/orders/snapshots/v1", "alice", "wonder", "", []string{"Destination", "/restore/a"}, 201},
		{"token user may", "COPY", "/topics/orders/snapshots/v1", "", "", "s3cret-token", []string{"Destination", "/restore/t"}, 201},
		{"reader may not cancel", "DELETE", "/restore/a", "bob", "builder", "", nil, 403},
		{"restorer cancels", "DELETE", "/restore/a", "alice", "wonder", "", nil, 204},
	} {
		if got := req(tt.method, tt.path, tt.user, tt.pw, tt.token, tt.hdr...); got != tt.want {
			t.Errorf("%s: %s %s = %d, want %d", tt.name, tt.method, tt.path, got, tt.want)
		}
	}
	if _, ok := s.rec.reqs["b"]; ok {
		t.Errorf("a refused COPY started a restore")
	}
}

func TestCheckListen(t *testing.T) {
	auth := &Auth{Token: "x"}
	for _, tt := range []struct {
		addr string
		tls  bool
		auth *Auth
		ok   bool
	}{
		{"127.0.0.1:8080", false, &Auth{}, true},
		{"[::1]:8080", false, &Auth{}, true},
		{"localhost:8080", false, &Auth{}, true},
		{"0.0.0.0:8080", false, &Auth{}, false},
		{":8080", true, &Auth{}, false},
		{"10.0.0.1:8080", true, &Auth{}, false},
		{"10.0.0.1:8080", false, auth, false},
		{"10.0.0.1:8080", true, auth, true},
	} {
		err := CheckListen(tt.addr, tt.tls, tt.auth)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInsecure) {
			t.Errorf("CheckListen(%s, tls %v, auth %v) = %v", tt.addr, tt.tls, tt.auth.Enabled(), err)
		}
	}
}
