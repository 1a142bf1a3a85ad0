package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountKbackup runs `kbackup mount` on storage at a fresh directory and
// stops it with SIGTERM on cleanup, expecting a clean unmount and exit 0.
func mountKbackup(t *testing.T, storage string, extra ...string) string {
	t.Helper()
	return mountKbackupAt(t, t.TempDir(), storage, extra...)
}

// mountKbackupAt is mountKbackup on the empty directory mp.
func mountKbackupAt(t *testing.T, mp, storage string, extra ...string) string {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("/dev/fuse is missing: the mount tests need FUSE (%v)", err)
	}
	args := append([]string{"mount", "--storage", storage, "--refresh", "1s"}, extra...)
	cmd, logs := startKbackup(t, append(args, mp)...)
	waitFor(t, 10*time.Second, "the mount", func() bool {
		_, err := os.Stat(filepath.Join(mp, "topics"))
		return err == nil
	})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kbackup mount exited with %v after SIGTERM:\n%s", err, logs)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("kbackup mount did not exit after SIGTERM:\n%s", logs)
		}
		if out, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(out, []byte(" "+mp+" ")) {
			t.Errorf("%s is still mounted", mp)
			_ = exec.Command("fusermount3", "-u", "-z", mp).Run()
		}
	})
	return mp
}

// shell runs script with sh and returns its stdout; it fails the test on a
// non-zero exit.
func shell(t *testing.T, script string) string {
	t.Helper()
	out, err := shellErr(script)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

func shellErr(script string) (string, error) {
	cmd := exec.Command("sh", "-c", script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// mountStats reads the mount's counters from MOUNTPOINT/.kbackup/stats.
func mountStats(t *testing.T, mp string) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mp, ".kbackup", "stats"))
	if err != nil {
		t.Fatalf("read mount counters: %v", err)
	}
	res := map[string]int64{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(l, " ")
		res[k], _ = strconv.ParseInt(v, 10, 64)
	}
	return res
}

// waitPhase waits until restore/<name>/status shows phase (top level).
func waitPhase(t *testing.T, mp, name, phase string, timeout time.Duration) string {
	t.Helper()
	var last string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(filepath.Join(mp, "restore", name, "status"))
		last = string(b)
		if err == nil && strings.Contains(last, "\nphase: "+phase+"\n") {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("restore/%s did not reach %s within %s; status:\n%s", name, phase, timeout, last)
	return ""
}

// content drops offsets: a restore into a new topic writes the same
// records, but transaction markers of the source left offset gaps.
func content(rs map[int32][]rec) map[int32][]rec {
	out := map[int32][]rec{}
	for p, l := range rs {
		for _, r := range l {
			r.Offset = 0
			out[p] = append(out[p], r)
		}
	}
	return out
}

// jqLines renders kcat records as jq -c '[.offset,.key,.value]' prints
// the mount's lines.
func jqLines(rs []rec) string {
	var b strings.Builder
	for _, r := range rs {
		line, _ := json.Marshal([]any{r.Offset, r.Key, r.Value})
		fmt.Fprintf(&b, "%s\n", line)
	}
	return b.String()
}

// TestMount mounts a backup of the foundation dataset with the real
// binary and checks it with the real tools, then restores by copying.
func TestMount(t *testing.T) {
	c := startCluster(t)
	produceDataset(t, c.Addr())
	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--segment-bytes", "1MiB"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, r.stderr)
	}
	mp := mountKbackup(t, dir, "--brokers", c.Addr())
	want := kcatRead(t, c.Addr(), "beta")
	snap := filepath.Join(mp, "topics/beta/snapshots/v1")

	t.Run("browse", func(t *testing.T) {
		if got := shell(t, "ls "+mp+"/topics"); got != "alpha\nbeta\ngamma\n" {
			t.Fatalf("ls topics: %q", got)
		}
		if got := shell(t, "readlink "+mp+"/topics/beta/latest"); got != "snapshots/v1\n" {
			t.Fatalf("readlink latest: %q", got)
		}
		for p := int32(0); p < 6; p++ {
			f := fmt.Sprintf("%s/%d/records.jsonl", snap, p)
			all := shell(t, "jq -c '[.offset,.key,.value]' "+f)
			if exp := jqLines(want[p]); all != exp {
				t.Fatalf("partition %d: jq of records.jsonl differs from kcat (%d vs %d bytes)", p, len(all), len(exp))
			}
			lines := strings.SplitAfter(shell(t, "cat "+f), "\n")
			lines = lines[:len(lines)-1]
			if len(lines) != len(want[p]) {
				t.Fatalf("partition %d: cat gives %d lines, kcat %d records", p, len(lines), len(want[p]))
			}
			if got := shell(t, "head -n 3 "+f); got != strings.Join(lines[:3], "") {
				t.Fatalf("head -n 3: %q", got)
			}
			if got := shell(t, "tail -n 5 "+f); got != strings.Join(lines[len(lines)-5:], "") {
				t.Fatalf("tail -n 5: %q", got)
			}
			nulls := 0
			for _, r := range want[p] {
				if r.Key == nil {
					nulls++
				}
			}
			if got := strings.TrimSpace(shell(t, `grep -c '"key":null' `+f+" || true")); got != strconv.Itoa(nulls) {
				t.Fatalf("partition %d: grep finds %s null keys, kcat %d", p, got, nulls)
			}
			segs := shell(t, fmt.Sprintf("cat %s/%d/segments/*.jsonl", snap, p))
			if segs != strings.Join(lines, "") {
				t.Fatalf("partition %d: the segment files do not add up to records.jsonl", p)
			}
		}
	})

	t.Run("restore by cp -r", func(t *testing.T) {
		before := mountStats(t, mp)
		start := time.Now()
		shell(t, "cp -r "+snap+" "+mp+"/restore/beta-copy")
		took := time.Since(start)
		after := mountStats(t, mp)
		read := after["read_bytes"] - before["read_bytes"]
		t.Logf("cp -r of beta v1 took %v; %d bytes read through the mount, %d bytes copied by copy_file_range", took, read, after["copied_bytes"]-before["copied_bytes"])
		if read > 0 {
			t.Errorf("cp -r read %d bytes through the mount; want none", read)
		}
		if after["copied_bytes"] == before["copied_bytes"] {
			t.Errorf("cp -r did not use copy_file_range")
		}
		st := waitPhase(t, mp, "beta-copy", "Done", 60*time.Second)
		if !strings.Contains(st, "target: beta-copy") {
			t.Errorf("status:\n%s", st)
		}
		sameRecords(t, "beta-copy", content(want), content(kcatRead(t, c.Addr(), "beta-copy")))
		if got := shell(t, "ls "+mp+"/restore"); !strings.Contains(got, "beta-copy\n") {
			t.Errorf("ls restore: %q", got)
		}
	})

	t.Run("copy onto an existing restore is refused", func(t *testing.T) {
		// beta-copy is Done: a second cp -r onto the name would land in
		// beta-copy/v1 and restore nothing. It fails with EEXIST.
		out, err := shellErr("cp -r " + snap + " " + mp + "/restore/beta-copy")
		if err == nil || !strings.Contains(out, "File exists") {
			t.Fatalf("cp -r onto a finished restore: %v %s", err, out)
		}
		if got := shell(t, "ls "+mp+"/restore/beta-copy"); strings.Contains(got, "v1") {
			t.Errorf("the refused copy left beta-copy/v1: %q", got)
		}
		if st := waitPhase(t, mp, "beta-copy", "Done", 5*time.Second); !strings.Contains(st, "target: beta-copy") {
			t.Errorf("status:\n%s", st)
		}
	})

	t.Run("partition into existing dir", func(t *testing.T) {
		shell(t, "mkdir "+mp+"/restore/beta-p3 && cp -r "+snap+"/3 "+mp+"/restore/beta-p3/")
		waitPhase(t, mp, "beta-p3", "Done", 60*time.Second)
		got := kcatRead(t, c.Addr(), "beta-p3")
		sameRecords(t, "beta-p3", content(map[int32][]rec{3: want[3]}), content(got))
	})

	t.Run("cp -a and read+write copies", func(t *testing.T) {
		shell(t, "cp -a "+snap+"/2 "+mp+"/restore/beta-a2")
		shell(t, "mkdir "+mp+"/restore/beta-tar && (cd "+snap+" && tar cf - 4) | (cd "+mp+"/restore/beta-tar && tar xf -)")
		waitPhase(t, mp, "beta-a2", "Done", 60*time.Second)
		waitPhase(t, mp, "beta-tar", "Done", 60*time.Second)
		sameRecords(t, "beta-a2", content(map[int32][]rec{2: want[2]}), content(kcatRead(t, c.Addr(), "beta-a2")))
		sameRecords(t, "beta-tar", content(map[int32][]rec{4: want[4]}), content(kcatRead(t, c.Addr(), "beta-tar")))
	})

	t.Run("spec file", func(t *testing.T) {
		spec := filepath.Join(t.TempDir(), "gamma-spec.yaml")
		os.WriteFile(spec, []byte("config:\n  createTopics: true\n  topics:\n    - source: gamma\n      target: gamma-spec\n      partitions:\n        - number: 1\n          restoreUntilOffset: 100\n"), 0o644)
		shell(t, "cp "+spec+" "+mp+"/restore/")
		waitPhase(t, mp, "gamma-spec", "Done", 60*time.Second)
		got := kcatRead(t, c.Addr(), "gamma-spec")
		if len(got[1]) != 100 || len(got) != 1 {
			t.Fatalf("gamma-spec: %d partitions, %d records in partition 1; want 100 records of partition 1", len(got), len(got[1]))
		}
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		os.WriteFile(bad, []byte("config:\n  topics: [{source: gamma, target: x}]\n  parallelism: -1\n"), 0o644)
		if out, err := shellErr("cp " + bad + " " + mp + "/restore/"); err == nil {
			t.Fatalf("cp of an invalid spec succeeded: %s", out)
		}
		waitPhase(t, mp, "bad", "Invalid", 5*time.Second)
	})

	t.Run("invalid copy of a topic", func(t *testing.T) {
		out, err := shellErr("cp -r " + mp + "/topics/alpha " + mp + "/restore/")
		if err == nil {
			t.Fatalf("cp -r of a topic directory succeeded: %s", out)
		}
		st := waitPhase(t, mp, "alpha", "Invalid", 5*time.Second)
		if !strings.Contains(st, "snapshots/vN") {
			t.Errorf("status does not say what to copy instead:\n%s", st)
		}
	})

	t.Run("rm -r clears and cancels", func(t *testing.T) {
		shell(t, "cp -r "+mp+"/topics/gamma/snapshots/v1 "+mp+"/restore/gamma-cancel")
		shell(t, "rm -r "+mp+"/restore/gamma-cancel "+mp+"/restore/beta-copy "+mp+"/restore/alpha "+mp+"/restore/bad")
		got := shell(t, "ls "+mp+"/restore")
		for _, gone := range []string{"gamma-cancel", "beta-copy", "alpha", "bad"} {
			if strings.Contains(got, gone+"\n") {
				t.Errorf("ls restore after rm -r still shows %s: %q", gone, got)
			}
		}
	})
}

// TestMountRefusesAndReadOnly checks the one-line errors and that restore/
// is read-only without brokers.
func TestMountRefusesAndReadOnly(t *testing.T) {
	dir := t.TempDir()
	if r := kbackup(t, "mount", "--storage", dir); r.code == 0 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("mount without MOUNTPOINT: exit %d, %q", r.code, r.stderr)
	}
	inside := filepath.Join(dir, "mnt")
	os.Mkdir(inside, 0o755)
	if r := kbackup(t, "mount", "--storage", dir, inside); r.code == 0 || !strings.Contains(r.stderr, "inside the storage directory") {
		t.Errorf("mount inside storage: exit %d, %q", r.code, r.stderr)
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	if r := kbackup(t, "mount", "--storage", dir, full); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("mount on a non-empty dir: exit %d, %q", r.code, r.stderr)
	}
	mp := mountKbackup(t, dir)
	if r := kbackup(t, "mount", "--storage", dir, mp); r.code == 0 || !strings.Contains(r.stderr, "busy") {
		t.Errorf("mount on a mounted dir: exit %d, %q", r.code, r.stderr)
	}
	if got := shell(t, "ls "+mp+"/restore"); got != "README\n" {
		t.Errorf("ls restore without --brokers: %q", got)
	}
	if out, err := shellErr("mkdir " + mp + "/restore/x"); err == nil || !strings.Contains(out, "Read-only") {
		t.Errorf("mkdir in restore/ without --brokers: %v %s", err, out)
	}
}

// TestMountLive reads the mount while a backup daemon writes the same
// storage: new records appear within --refresh.
func TestMountLive(t *testing.T) {
	c := startCluster(t)
	createTopic(t, c.Addr(), "live", 2, nil)
	produceN(t, c.Addr(), "live", 2, 0, 100)
	dir := t.TempDir()
	startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir, "--segment-age", "500ms", "--discovery-interval", "300ms")
	waitFor(t, 15*time.Second, "the first records stored", func() bool { return readManifest(t, dir, "live") != nil && storedCount(t, dir, "live", 0) == 100 })
	mp := mountKbackup(t, dir)
	count := func() int {
		out, err := shellErr("cat " + mp + "/topics/live/latest/*/records.jsonl | wc -l")
		if err != nil {
			return -1
		}
		n, _ := strconv.Atoi(strings.TrimSpace(out))
		return n
	}
	waitFor(t, 5*time.Second, "100 lines through the mount", func() bool { return count() == 100 })
	segs := shell(t, "ls "+mp+"/topics/live/latest/0/segments | wc -l")
	produceN(t, c.Addr(), "live", 2, 100, 60)
	start := time.Now()
	waitFor(t, 10*time.Second, "160 lines through the mount", func() bool { return count() == 160 })
	t.Logf("new records visible through the mount %v after producing", time.Since(start).Round(100*time.Millisecond))
	if now := shell(t, "ls "+mp+"/topics/live/latest/0/segments | wc -l"); now == segs {
		t.Errorf("no new segment file appeared (still %s)", strings.TrimSpace(now))
	}
}
