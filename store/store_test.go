package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		name, url string
		objectAt  string // file that a write of "t/x" must create, if file storage
	}{
		{"bare absolute path", filepath.Join(dir, "abs"), filepath.Join(dir, "abs", "t", "x")},
		{"bare relative path", "rel/sub", filepath.Join(dir, "rel", "sub", "t", "x")},
		{"file URL", "file://" + filepath.ToSlash(filepath.Join(dir, "url")), filepath.Join(dir, "url", "t", "x")},
		{"file URL with prefix", "file://" + filepath.ToSlash(filepath.Join(dir, "pre")) + "?prefix=backups/", filepath.Join(dir, "pre", "backups", "t", "x")},
		{"memory", "mem://", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctx, tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.write(ctx, "t/x", []byte("hello")); err != nil {
				t.Fatal(err)
			}
			if b, err := s.read(ctx, "t/x"); err != nil || string(b) != "hello" {
				t.Fatalf("read back %q, %v", b, err)
			}
			if tt.objectAt != "" {
				if b, err := os.ReadFile(tt.objectAt); err != nil || string(b) != "hello" {
					t.Errorf("object not at %s: %v", tt.objectAt, err)
				}
			}
			if !strings.Contains(tt.url, "?") && s.URL() != tt.url {
				t.Errorf("URL() = %q, want %q", s.URL(), tt.url)
			}
			if _, err := s.read(ctx, "t/missing"); !IsNotFound(err) {
				t.Errorf("missing object: %v, want not found", err)
			}
			// A lease works on every kind (file storage uses links).
			l, err := s.AcquireLease(ctx, "t", "me", 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url string
		want      []string
	}{
		{"empty", "", []string{"no storage given"}},
		{"under a regular file", filepath.Join(file, "sub"), []string{"storage directory", "cannot be created", "not a directory"}},
		{"file URL without a path", "file:///", []string{"names no directory"}},
		{"unknown scheme", "nosuch://bucket", []string{"open storage nosuch://bucket", `no driver registered for "nosuch"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctx, tt.url)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		in      string
		secrets []string // must not appear in the output
		keep    []string // must appear in the output
	}{
		{"s3://AKIAXXXX:hunter2@bucket/path?region=eu-west-1", []string{"AKIAXXXX", "hunter2"}, []string{"s3://bucket/path", "region=eu-west-1"}},
		{"azblob://c?sig=abc123&sv=2020", []string{"abc123"}, []string{"sv=2020", "sig=REDACTED"}},
		{"s3://b?access_key_id=AK&secret_access_key=SK&session_token=TK", []string{"=AK", "=SK", "=TK"}, []string{"s3://b"}},
		{"gs://b?password=pw&Api_Key=k1", []string{"=pw", "=k1"}, nil},
		{"file:///tmp/x", nil, []string{"file:///tmp/x"}},
		{"/plain/path", nil, []string{"/plain/path"}},
		{"mem://", nil, []string{"mem://"}},
		// Unparseable URLs must not leak their userinfo either.
		{"s3://user:hunter2@bucket/%zz", []string{"hunter2"}, []string{"s3://"}},
		{"s3://user:hunter2@bucket\x7f", []string{"hunter2"}, nil},
		{"s3://b/%zz?secret=hunter2", []string{"hunter2"}, []string{"s3://b/"}},
	}
	for _, tt := range tests {
		got := Redact(tt.in)
		for _, s := range tt.secrets {
			if strings.Contains(got, s) {
				t.Errorf("Redact(%q) = %q leaks %q", tt.in, got, s)
			}
		}
		for _, k := range tt.keep {
			if !strings.Contains(got, k) {
				t.Errorf("Redact(%q) = %q lost %q", tt.in, got, k)
			}
		}
	}
	// Open's errors must not leak them either.
	for _, u := range []string{"s3://user:hunter2@bucket/%zz", "nosuch://user:hunter2@bucket?secret=hunter2"} {
		if _, err := Open(context.Background(), u); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error %v leaks the password", u, err)
		}
	}
}
