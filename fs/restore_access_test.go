package fs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nobody is the user the access tests act as.
const nobody = 65534

// openDir makes a directory every user can enter (t.TempDir's are 0700).
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kbackup-access-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mountShared mounts st with allow_other at a mountpoint every user can
// reach.
func mountShared(t *testing.T, b *backup, opts Options) string {
	t.Helper()
	requireFUSE(t)
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING ACCESS TEST: it acts as another user and needs root")
	}
	mp := filepath.Join(openDir(t), "mnt")
	if err := os.Mkdir(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	opts.AllowOther = true
	srv, err := Mount(context.Background(), b.st, mp, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if srv.Unmount() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("unmount %s failed", mp)
	})
	return mp
}

// as runs script with sh as uid with gid and extra groups.
func as(uid, gid uint32, groups []uint32, script string) (string, error) {
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestRestoreAccess acts in restore/ of a mount with allow_other as uid
// 65534: it may read, but neither start, cancel nor rename restores,
// unless RestoreUsers or RestoreGroups let it; modes and access(2) say the
// same.
func TestRestoreAccess(t *testing.T) {
	b := newBackup(t)
	fr := &fakeRestorer{reqs: map[string]RestoreRequest{}}
	mp := mountShared(t, b, Options{Restorer: fr})
	snap := mp + "/topics/orders/snapshots/v2"
	specDir := openDir(t)
	spec := filepath.Join(specDir, "evil.yaml")
	if err := os.WriteFile(spec, []byte("config: {allowNonEmpty: true, topics: [{source: orders, target: prod, disablePreflightChecks: true}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "cp -r "+snap+" "+mp+"/restore/mine")

	// Reading is shared.
	if out, err := as(nobody, nobody, nil, "ls "+mp+"/restore && cat "+mp+"/restore/mine/status && head -c 20 "+snap+"/0/records.jsonl"); err != nil || !strings.Contains(out, "mine") {
		t.Fatalf("nobody cannot read: %v: %s", err, out)
	}
	// Acting is not.
	for _, script := range []string{
		"mkdir " + mp + "/restore/evil",
		"cp -r " + snap + " " + mp + "/restore/evil",
		"cp " + spec + " " + mp + "/restore/",
		"ln -s snapshots/v2 " + mp + "/restore/evil",
		"rmdir " + mp + "/restore/mine",
		"rm -r " + mp + "/restore/mine",
		"mkdir " + mp + "/restore/mine/x",
		"touch " + mp + "/restore/mine/x",
		"test -w " + mp + "/restore",
	} {
		if out, err := as(nobody, nobody, nil, script); err == nil {
			t.Errorf("as uid %d: %q succeeded: %s", nobody, script, out)
		} else if !strings.Contains(out, "ermission denied") && !strings.HasPrefix(script, "test") {
			t.Errorf("as uid %d: %q: %s, want permission denied", nobody, script, out)
		}
	}
	if got, _ := fr.List(context.Background()); strings.Join(got, ",") != "mine" {
		t.Fatalf("restores after uid %d acted: %v", nobody, got)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(mp+"/restore", &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != uint32(os.Getuid()) || st.Mode&0o7777 != 0o755 {
		t.Fatalf("restore/ shows uid %d mode %o, want %d 755", st.Uid, st.Mode&0o7777, os.Getuid())
	}
	if out, err := as(nobody, nobody, nil, "test -r "+mp+"/restore && test -x "+mp+"/restore"); err != nil {
		t.Fatalf("access(2) refuses reading restore/: %s", out)
	}
}

// TestRestoreAccessGranted lets uid 65534 restore by user, then by a
// supplementary group; the copy it starts is its own.
func TestRestoreAccessGranted(t *testing.T) {
	b := newBackup(t)
	snapOf := func(mp string) string { return mp + "/topics/orders/snapshots/v2" }
	for _, tc := range []struct {
		name   string
		opts   Options
		groups []uint32
		gid    uint32
	}{
		{"user", Options{RestoreUsers: []uint32{nobody}}, nil, 0o755},
		{"group", Options{RestoreGroups: []uint32{4242}}, []uint32{4242}, 0o775},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr := &fakeRestorer{reqs: map[string]RestoreRequest{}}
			tc.opts.Restorer = fr
			mp := mountShared(t, b, tc.opts)
			if out, err := as(nobody, nobody, tc.groups, "test -w "+mp+"/restore && cp -r "+snapOf(mp)+" "+mp+"/restore/granted"); err != nil {
				t.Fatalf("granted uid %d cannot restore: %v: %s", nobody, err, out)
			}
			if r := fr.req("granted"); r.Target != "granted" || r.UID != nobody {
				t.Fatalf("request %+v", r)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(mp+"/restore", &st); err != nil {
				t.Fatal(err)
			}
			if st.Mode&0o7777 != tc.gid {
				t.Fatalf("restore/ mode %o, want %o", st.Mode&0o7777, tc.gid)
			}
			if len(tc.groups) > 0 && st.Gid != tc.groups[0] {
				t.Fatalf("restore/ group %d, want %d", st.Gid, tc.groups[0])
			}
			// Another user's copy in progress is its own: root's is not
			// nobody's to change.
			sh(t, "mkdir "+mp+"/restore/roots")
			if out, err := as(nobody, nobody, tc.groups, "mkdir "+mp+"/restore/roots/x"); err == nil {
				t.Fatalf("uid %d changed root's copy: %s", nobody, out)
			}
			if err := syscall.Stat(mp+"/restore/roots", &st); err != nil || st.Uid != 0 {
				t.Fatalf("root's copy shows uid %d (%v)", st.Uid, err)
			}
			if out, err := as(nobody, nobody, tc.groups, "rm -r "+mp+"/restore/granted"); err != nil {
				t.Fatalf("uid %d cannot cancel its restore: %s", nobody, out)
			}
		})
	}
}
