package webdav

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/fs/browse/browsetest"
)

// needTool skips the test, loudly, when a Debian client is missing
// (`make deps` installs it).
func needTool(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		p, err = exec.LookPath("/usr/sbin/" + bin) // not in every PATH
	}
	if err != nil {
		t.Skipf("SKIPPING: %s is not installed (apt-get install -y %s, or make deps)", bin, pkg)
	}
	return p
}

// run runs a command with a timeout and returns its output; a failure
// fails the test.
func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// mountDavfs mounts the server with davfs2 (no locks, no upload delay;
// buf_size 64 works around davfs2 1.6 failing readdir with EINVAL on
// Linux 6.16 and later, davfs2 issue 22)
// and unmounts it when the test ends.
func mountDavfs(t *testing.T, s *server) string {
	t.Helper()
	bin := needTool(t, "mount.davfs", "davfs2")
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
	mnt, conf := filepath.Join(dir, "mnt"), filepath.Join(dir, "davfs2.conf")
	for _, d := range []string{mnt, filepath.Join(dir, "cache")} {
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf("ask_auth 0\nuse_locks 0\ndelay_upload 0\ncache_dir %s\nbackup_dir lost+found\nfile_refresh 1\ndir_refresh 1\nbuf_size 64\n", filepath.Join(dir, "cache"))
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "", bin, "-o", "conf="+conf, s.URL+"/", mnt)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	return mnt
}

// TestDavfs2 mounts the server with davfs2: ls, cat, tail and jq read
// what the tree holds, and cp -r of a snapshot into restore/ asks for its
// restore.
func TestDavfs2(t *testing.T) {
	s := serve(t, Options{})
	mnt := mountDavfs(t, s)
	if got := run(t, "", "ls", mnt+"/topics/orders/snapshots/v2"); got != "0\n1\nindex\nsnapshot.yaml\n" {
		t.Errorf("ls v2: %q", got)
	}
	want := string(s.b.Lines[browsetest.V2][1])
	if got := run(t, "", "cat", mnt+"/topics/orders/latest/1/records.jsonl"); got != want {
		t.Errorf("cat records.jsonl: %d bytes, want %d", len(got), len(want))
	}
	lines := strings.SplitAfter(want, "\n")
	lines = lines[:len(lines)-1] // after the last newline
	if got := run(t, "", "tail", "-n", "5", mnt+"/topics/orders/snapshots/v2/1/records.jsonl"); got != strings.Join(lines[len(lines)-5:], "") {
		t.Errorf("tail -n 5: %q", got)
	}
	if got := run(t, "", "jq", "-c", ".offset", mnt+"/topics/orders/snapshots/v2/1/records.jsonl"); strings.Count(got, "\n") != len(lines) {
		t.Errorf("jq read %d records, want %d", strings.Count(got, "\n"), len(lines))
	}
	run(t, "", "cp", "-r", mnt+"/topics/orders/snapshots/v1", mnt+"/restore/orders-davfs")
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.rec.mu.Lock()
		req, ok := s.rec.reqs["orders-davfs"]
		s.rec.mu.Unlock()
		if ok {
			if req.Source != browsetest.V1 || req.Partitions != nil || req.Target != "orders-davfs" {
				t.Errorf("cp -r asked for %+v", req)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cp -r into restore/ started no restore")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// davfs2 sees status once it lists the directory again (dir_refresh).
	var status []byte
	for range 50 {
		if status, _ = os.ReadFile(mnt + "/restore/orders-davfs/status"); len(status) > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(string(status), "target: orders-davfs") {
		t.Errorf("status over davfs2: %q", status)
	}
}

// TestCadaver scripts cadaver: PROPFIND (ls), GET (get), COPY (cp) of a
// snapshot into restore/ and DELETE (rm) of the restore.
func TestCadaver(t *testing.T) {
	bin := needTool(t, "cadaver", "cadaver")
	s := serve(t, Options{})
	dir := t.TempDir()
	script := fmt.Sprintf("ls /topics/orders/snapshots/v2/1/\nget /topics/orders/snapshots/v2/1/records.jsonl %s/r.jsonl\n"+
		"copy /topics/orders/snapshots/v1/ /restore/orders-cad\ncat /restore/orders-cad/status\nrmcol /restore/orders-cad\nquit\n", dir)
	rc := filepath.Join(dir, "rc")
	if err := os.WriteFile(rc, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, "", bin, "-t", "-r", rc, s.URL+"/")
	if !regexp.MustCompile(fmt.Sprintf(`records\.jsonl +%d `, len(s.b.Lines[browsetest.V2][1]))).MatchString(out) {
		t.Errorf("cadaver ls lacks records.jsonl and its size:\n%s", out)
	}
	for _, want := range []string{
		"Copying `/topics/orders/snapshots/v1/' to `/restore/orders-cad':  succeeded.",
		"target: orders-cad",
		"Deleting collection `/restore/orders-cad': succeeded.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("cadaver output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "failed") {
		t.Errorf("cadaver:\n%s", out)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "r.jsonl")); err != nil || string(got) != string(s.b.Lines[browsetest.V2][1]) {
		t.Errorf("cadaver get: %d bytes, %v", len(got), err)
	}
	if _, ok := s.rec.reqs["orders-cad"]; ok {
		t.Errorf("rmcol did not cancel the restore")
	}
}

// litmusExpected are the litmus tests that fail by design in the one
// folder a client may write, restore/ (docs/serve.md, "Compliance"):
// copies keep names and sizes but not bytes (put_get), files cannot be
// copied or moved within restore/ (only from the tree into it), and dead
// properties are not stored (PROPPATCH is refused).
var litmusExpected = map[string][]string{
	"basic":    {"put_get", "put_get_utf8_segment"},
	"copymove": {"copy_simple", "copy_overwrite", "copy_coll", "copy_shallow", "move", "move_coll"},
	"props":    {"propset", "propmanyns", "propget"},
}

// TestLitmus runs the WebDAV compliance suites that apply (basic,
// copymove, props; not locks: the server is class 1) in restore/: every
// test passes but those litmusExpected lists, which must fail as
// documented.
func TestLitmus(t *testing.T) {
	bin := needTool(t, "litmus", "litmus")
	s := serve(t, Options{})
	cmd := exec.Command(bin, "-k", s.URL+"/restore/")
	cmd.Env = append(os.Environ(), "TESTS=basic copymove props")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("litmus: %v\n%s", err, out)
	}
	suites := regexp.MustCompile(`-> running .(\w+).:`).FindAllStringSubmatchIndex(string(out), -1)
	if len(suites) != 3 {
		t.Fatalf("litmus ran %d suites, want 3:\n%s", len(suites), out)
	}
	for i, m := range suites {
		suite := string(out[m[2]:m[3]])
		end := len(out)
		if i+1 < len(suites) {
			end = suites[i+1][0]
		}
		text := string(out[m[1]:end])
		var failed []string
		for _, f := range regexp.MustCompile(`\d+\. (\w+)\.+ FAIL`).FindAllStringSubmatch(text, -1) {
			if !slices.Contains(failed, f[1]) {
				failed = append(failed, f[1])
			}
		}
		if want := litmusExpected[suite]; !slices.Equal(failed, want) {
			t.Errorf("litmus %s: failed %v, want exactly %v:\n%s", suite, failed, want, text)
		}
		sum := regexp.MustCompile(`of (\d+) tests run: (\d+) passed`).FindStringSubmatch(text)
		if sum == nil {
			t.Errorf("litmus %s: no summary:\n%s", suite, text)
			continue
		}
		t.Logf("litmus %s: %s of %s passed", suite, sum[2], sum[1])
	}
}
