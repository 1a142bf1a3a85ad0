package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/store/crypt"
)

// TestEncryptedCommands backs the sample topics up encrypted with the
// binary's commands, restores one into a new topic and compares the record
// count, and checks the one-line errors of a missing and a wrong key, that
// verify names a damaged segment, and key check and rotate.
func TestEncryptedCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := devCluster(t, ctx, true)
	newKey := func() string { return "base64key://" + base64.URLEncoding.EncodeToString(crypt.NewSalt()) }
	key, key2 := newKey(), newKey()
	dir := t.TempDir()
	common := []string{"--brokers", c.Addr(), "--storage", dir, "--log-level", "warn"}
	if code, _, stderr := runCtx(ctx, append([]string{"backup", "--once", "--encryption-key", key}, common...)...); code != 0 {
		t.Fatalf("backup: %d %s", code, stderr)
	}
	t.Setenv("KBACKUP_STORAGE", dir)
	if code, out, stderr := runCtx(ctx, "verify", "--encryption-key", key); code != 0 || !strings.Contains(out, "0 damaged") {
		t.Fatalf("verify: %d %s %s", code, out, stderr)
	}
	oneLine := func(what string, code int, stderr, want string) {
		t.Helper()
		if code == 0 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, want) ||
			strings.Contains(stderr, strings.TrimPrefix(key, "base64key://")) {
			t.Errorf("%s: exit %d, stderr %q; want one line saying %q", what, code, stderr, want)
		}
	}
	code, _, stderr := runCtx(ctx, "verify")
	oneLine("verify without a key", code, stderr, "--encryption-key")
	code, _, stderr = runCtx(ctx, append([]string{"backup", "--once"}, common...)...)
	oneLine("plain backup into encrypted storage", code, stderr, "is encrypted with key base64key://…")
	code, _, stderr = runCtx(ctx, "verify", "--encryption-key", key2)
	oneLine("verify with a wrong key", code, stderr, "wrong encryption key")

	// Restore with the key: the copy has every record.
	code, _, stderr = runCtx(ctx, append([]string{"restore", "--encryption-key", key, "--topic", "orders:orders-copy", "--create-topics"}, common...)...)
	if code != 0 {
		t.Fatalf("restore: %d %s", code, stderr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	count := func(topic string) (n int64) {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	if got, want := count("orders-copy"), count("orders"); got != want || got == 0 {
		t.Fatalf("orders-copy holds %d records, orders %d", got, want)
	}

	if code, out, stderr := runCtx(ctx, "key", "check", "--encryption-key", key); code != 0 || !strings.Contains(out, "objects open with the key") {
		t.Fatalf("key check: %d %s %s", code, out, stderr)
	}
	if code, _, stderr := runCtx(ctx, "key", "rotate", "--encryption-key", key, "--new-key", key2); code != 0 {
		t.Fatalf("key rotate: %d %s", code, stderr)
	}
	code, _, stderr = runCtx(ctx, "verify", "--encryption-key", key)
	oneLine("verify with the rotated-out key", code, stderr, "wrong encryption key")

	// A flipped byte in a segment: verify fails and names it.
	segs, _ := filepath.Glob(filepath.Join(dir, "orders", "snapshots", "v1", "orders", "*.kan"))
	if len(segs) == 0 {
		t.Fatal("no orders segment")
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(segs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCtx(ctx, "verify", "--encryption-key", key2)
	if code != exitDamage || !strings.Contains(out, filepath.Base(segs[0])) {
		t.Fatalf("verify of a damaged segment: exit %d, %s", code, out)
	}
	code, out, _ = runCtx(ctx, "key", "check", "--encryption-key", key2)
	if code != exitDamage || !strings.Contains(out, filepath.Base(segs[0])) {
		t.Fatalf("key check of a damaged segment: exit %d, %s", code, out)
	}
}

// TestKeySchemes checks that the binary knows the clouds' KMS schemes: an
// unknown scheme is refused in one line that lists them. (Opening one of
// them would reach its cloud, which tests may not.)
func TestKeySchemes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, _, stderr := runCtx(ctx, "key", "check", "--storage", t.TempDir(), "--encryption-key", "nokms://x")
	if code == 0 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q: want one line", code, stderr)
	}
	for _, scheme := range []string{"base64key", "awskms", "gcpkms", "azurekeyvault", "hashivault"} {
		if !strings.Contains(stderr, scheme) {
			t.Errorf("stderr %q does not list scheme %s", stderr, scheme)
		}
	}
}
