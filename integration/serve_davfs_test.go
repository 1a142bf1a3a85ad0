package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// mountDavfs mounts the WebDAV server at base with Debian's davfs2 (no
// locks, no upload delay; buf_size 64 works around davfs2 1.6 failing
// readdir with EINVAL on Linux 6.16 and later) and unmounts it when the
// test ends. It needs root.
func mountDavfs(t *testing.T, base string) string {
	t.Helper()
	bin, err := exec.LookPath("mount.davfs")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/mount.davfs")
	}
	if err != nil {
		t.Skip("SKIPPING: davfs2 is not installed (apt-get install -y davfs2, or make deps)")
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING: mount.davfs needs root")
	}
	dir := t.TempDir()
	// mount.davfs drops root for the davfs2 user, which must reach its
	// cache.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mnt, cache, conf := filepath.Join(dir, "mnt"), filepath.Join(dir, "cache"), filepath.Join(dir, "davfs2.conf")
	for _, d := range []string{mnt, cache} {
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf("ask_auth 0\nuse_locks 0\ndelay_upload 0\ncache_dir %s\nfile_refresh 1\ndir_refresh 1\nbuf_size 64\n", cache)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-o", "conf="+conf, base+"/", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount.davfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	return mnt
}

// testDavfsRestore mounts the server with davfs2, reads a partition with
// jq as the mount would, and restores topic src's snapshot v1 by cp -r
// into restore/target: MKCOL and a PUT per file, the first recognised
// file starting the restore. kcat then reads the target topic.
func testDavfsRestore(t *testing.T, base, brokers, src, target string, want map[int32][]rec) {
	mnt := mountDavfs(t, base)
	out, err := exec.Command("jq", "-c", "[.offset,.key,.value]", mnt+"/topics/"+src+"/latest/0/records.jsonl").Output()
	if err != nil {
		t.Fatalf("jq over davfs2: %v", err)
	}
	if exp := jqLines(want[0]); string(out) != exp {
		t.Fatalf("jq over davfs2 differs from kcat (%d vs %d bytes)", len(out), len(exp))
	}
	cp := exec.Command("cp", "-r", mnt+"/topics/"+src+"/snapshots/v1", mnt+"/restore/"+target)
	var stderr bytes.Buffer
	cp.Stderr = &stderr
	if err := cp.Run(); err != nil {
		t.Fatalf("cp -r into restore/ over davfs2: %v %s", err, stderr.String())
	}
	waitRestored(t, base, target)
	sameRecords(t, target, content(want), content(kcatRead(t, brokers, target)))
}
