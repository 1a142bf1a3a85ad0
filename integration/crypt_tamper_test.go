package integration

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/store/crypt"
)

// TestEncryptedTamperVerify damages an encrypted backup made by the built
// binary in the ways an attacker with write access to the bucket could,
// each on a fresh copy: `kbackup verify` with the key must fail and name
// the damaged object. Flipped bytes and swapped blocks inside one segment
// are covered by store's TestEncryptedSegmentTamper; this is the binary's
// view of whole objects.
func TestEncryptedTamperVerify(t *testing.T) {
	c := startCluster(t)
	createTopic(t, c.Addr(), "tamper", 1, nil)
	produceVaried(t, c.Addr(), "tamper", 1, 3000)
	key := "base64key://" + base64.URLEncoding.EncodeToString(crypt.NewSalt())
	src := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", src, "--encryption-key", key, "--segment-bytes", "16KiB"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, r.stderr)
	}
	snap := filepath.Join("tamper", "snapshots", "v1", "tamper")
	segs, _ := filepath.Glob(filepath.Join(src, snap, "*.kan"))
	sort.Strings(segs)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want at least 3", len(segs))
	}
	heads, _ := filepath.Glob(filepath.Join(src, snap, "index.d", "heads", "*"))
	sort.Strings(heads)
	if len(heads) == 0 {
		t.Fatal("no index head")
	}
	rel := func(p string) string { r, _ := filepath.Rel(src, p); return r }
	seg0, seg1, head := rel(segs[0]), rel(segs[1]), rel(heads[len(heads)-1])
	flip := func(d []byte) []byte { d[len(d)/2] ^= 0x40; return d }
	for _, tc := range []struct {
		name   string
		damage func(dir string)
		names  []string // objects the failure must name
	}{
		{"segment truncated", func(dir string) { edit(t, filepath.Join(dir, seg0), func(d []byte) []byte { return d[:len(d)-1] }) }, []string{filepath.Base(seg0)}},
		{"segment cut to half", func(dir string) { edit(t, filepath.Join(dir, seg1), func(d []byte) []byte { return d[:len(d)/2] }) }, []string{filepath.Base(seg1)}},
		{"two segments swapped", func(dir string) {
			a, b := read(t, filepath.Join(dir, seg0)), read(t, filepath.Join(dir, seg1))
			edit(t, filepath.Join(dir, seg0), func([]byte) []byte { return b })
			edit(t, filepath.Join(dir, seg1), func([]byte) []byte { return a })
		}, []string{filepath.Base(seg0), filepath.Base(seg1)}},
		{"segment byte flipped", func(dir string) { edit(t, filepath.Join(dir, seg1), flip) }, []string{filepath.Base(seg1)}},
		{"index head byte flipped", func(dir string) { edit(t, filepath.Join(dir, head), flip) }, []string{filepath.ToSlash(head)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "copy")
			if out, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v %s", err, out)
			}
			tc.damage(dir)
			r := kbackup(t, "verify", "--storage", dir, "--encryption-key", key)
			all := r.stdout + r.stderr
			if r.code == 0 || strings.Contains(all, "panic") {
				t.Fatalf("verify of damaged storage: exit %d:\n%s", r.code, all)
			}
			for _, n := range tc.names {
				if !strings.Contains(all, n) {
					t.Errorf("verify does not name %s:\n%s", n, all)
				}
			}
			t.Logf("exit %d: %s", r.code, strings.TrimSpace(all))
		})
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit replaces the file at path by f of its contents.
func edit(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	if err := os.WriteFile(path, f(read(t, path)), 0o644); err != nil {
		t.Fatal(err)
	}
}
