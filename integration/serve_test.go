package integration

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServe serves a backup of the foundation dataset with the real
// binary: rclone (webdav backend) reads records equal to kcat's; a WebDAV
// COPY of a snapshot into restore/, an rclone copy (a server-side COPY
// per file) and a cp -r over davfs2 (MKCOL and a PUT per file) each
// restore it, checked with kcat.
func TestServe(t *testing.T) {
	rclone, err := exec.LookPath("rclone")
	if err != nil {
		t.Skip("SKIPPING: rclone is not installed (apt-get install -y rclone)")
	}
	c := startCluster(t)
	produceDataset(t, c.Addr())
	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--segment-bytes", "1MiB"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, r.stderr)
	}
	addr := freeAddr(t)
	base := "http://" + addr
	cmd, logs := startKbackup(t, "serve", "--storage", dir, "--brokers", c.Addr(), "--listen", addr, "--refresh", "1s")
	t.Cleanup(func() { stopServe(t, cmd, logs) })
	waitFor(t, 10*time.Second, "the server", func() bool {
		resp, err := http.Get(base + "/topics/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	want := kcatRead(t, c.Addr(), "beta")
	rc := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(rclone, args...)
		cmd.Env = append(os.Environ(), "RCLONE_CONFIG=/dev/null", "RCLONE_CONFIG_KB_TYPE=webdav", "RCLONE_CONFIG_KB_URL="+base, "RCLONE_CONFIG_KB_VENDOR=other")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("rclone %v: %v", args, err)
		}
		return string(out)
	}

	t.Run("rclone", func(t *testing.T) {
		if got := rc("lsf", "kb:topics"); got != "alpha/\nbeta/\ngamma/\n" {
			t.Fatalf("rclone lsf topics: %q", got)
		}
		for p := int32(0); p < 6; p++ {
			f := fmt.Sprintf("kb:topics/beta/latest/%d/records.jsonl", p)
			cmd := exec.Command("sh", "-c", "rclone cat "+f+" | jq -c '[.offset,.key,.value]'")
			cmd.Env = append(os.Environ(), "RCLONE_CONFIG=/dev/null", "RCLONE_CONFIG_KB_TYPE=webdav", "RCLONE_CONFIG_KB_URL="+base, "RCLONE_CONFIG_KB_VENDOR=other")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("rclone cat | jq: %v", err)
			}
			if exp := jqLines(want[p]); string(out) != exp {
				t.Fatalf("partition %d: rclone cat differs from kcat (%d vs %d bytes)", p, len(out), len(exp))
			}
		}
	})

	t.Run("restore by COPY", func(t *testing.T) {
		req, _ := http.NewRequest("COPY", base+"/topics/beta/snapshots/v1/", nil)
		req.Header.Set("Destination", "/restore/beta-dav")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("COPY: %d %s", resp.StatusCode, b)
		}
		status := waitRestored(t, base, "beta-dav")
		if !strings.Contains(status, "target: beta-dav") || !strings.Contains(status, "snapshot: v1") {
			t.Errorf("status:\n%s", status)
		}
		sameRecords(t, "beta-dav", content(want), content(kcatRead(t, c.Addr(), "beta-dav")))
	})

	t.Run("restore by rclone copy", func(t *testing.T) {
		// rclone makes restore/beta-rc with MKCOL and COPYs each file
		// server-side; the first decides the restore.
		rc("copy", "kb:topics/beta/snapshots/v1", "kb:restore/beta-rc")
		status := waitRestored(t, base, "beta-rc")
		if !strings.Contains(status, "target: beta-rc") || !strings.Contains(status, "snapshot: v1") {
			t.Errorf("status:\n%s", status)
		}
		sameRecords(t, "beta-rc", content(want), content(kcatRead(t, c.Addr(), "beta-rc")))
	})

	t.Run("restore by cp -r over davfs2", func(t *testing.T) {
		testDavfsRestore(t, base, c.Addr(), "beta", "beta-davfs", want)
	})

	t.Run("headless Chromium", func(t *testing.T) {
		testBrowser(t, base, want)
	})

	t.Run("refuses beyond loopback without TLS and auth", func(t *testing.T) {
		r := kbackup(t, "serve", "--storage", dir, "--listen", "0.0.0.0:0")
		if r.code != 2 || !strings.Contains(r.stderr, "needs TLS") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("serve on 0.0.0.0: exit %d: %q", r.code, r.stderr)
		}
	})
}

// waitRestored waits for restore/NAME of the server at base to be Done
// and returns its status; a failed restore fails the test.
func waitRestored(t *testing.T, base, name string) string {
	t.Helper()
	var status string
	waitFor(t, 60*time.Second, "restore/"+name+" Done", func() bool {
		resp, err := http.Get(base + "/restore/" + name + "/status")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status = string(b)
		if strings.Contains(status, "\nphase: Failed") || strings.Contains(status, "\nphase: Invalid") {
			t.Fatalf("restore %s failed:\n%s", name, status)
		}
		return strings.Contains(status, "\nphase: Done\n")
	})
	return status
}

// testBrowser loads a snapshot page and a partition page of the server at
// base in headless Chromium (with every host but 127.0.0.1 unresolvable,
// so it reaches nothing else): the DOM Chromium built holds the topic, the
// snapshot's record count and the partition's first record as kcat read
// it, and each page renders to a screenshot of the window's size.
func testBrowser(t *testing.T, base string, want map[int32][]rec) {
	chrome := ""
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			chrome = p
			break
		}
	}
	if chrome == "" {
		t.Skip("SKIPPING: no headless Chromium (apt-get install -y --no-install-recommends chromium-headless-shell)")
	}
	profile := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, chrome, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
			"--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
			"--disable-sync", "--disable-default-apps", "--disable-breakpad", "--metrics-recording-only",
			"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--user-data-dir=" + profile}, args...)...)
		cmd.Dir = profile
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %v: %v\n%s", chrome, args, err, errb.String())
		}
		return out.String()
	}
	total := 0
	for _, rs := range want {
		total += len(rs)
	}
	snap := base + "/topics/beta/snapshots/v1/"
	dom := run("--dump-dom", snap)
	for _, s := range []string{"<title>kbackup: /topics/beta/snapshots/v1</title>", fmt.Sprintf("beta v1 (active): %d records", total), ">0/<", ">5/<"} {
		if !strings.Contains(dom, s) {
			t.Errorf("snapshot page DOM lacks %q:\n%s", s, dom)
		}
	}
	if dom := run("--dump-dom", base+"/topics/beta/"); !strings.Contains(dom, ">latest/<") || !strings.Contains(dom, ">snapshots/<") {
		t.Errorf("topic page DOM lacks its latest and snapshots entries:\n%s", dom)
	}
	part := run("--dump-dom", snap+"0/")
	for _, s := range []string{"First records", "Last records", fmt.Sprintf(`"offset":%d,`, want[0][0].Offset), fmt.Sprintf(`"offset":%d,`, want[0][len(want[0])-1].Offset), ">records.jsonl<"} {
		if !strings.Contains(part, s) {
			t.Errorf("partition page DOM lacks %q:\n%s", s, part)
		}
	}
	for _, page := range []string{snap, snap + "0/"} {
		shot := filepath.Join(profile, "shot.png")
		_ = os.Remove(shot)
		run("--screenshot="+shot, "--window-size=1024,768", page)
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("screenshot of %s: %v", page, err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("screenshot of %s: %v", page, err)
		}
		if b := img.Bounds(); b.Dx() != 1024 || b.Dy() != 768 {
			t.Errorf("screenshot of %s is %v, want 1024×768", page, b)
		}
	}
}
