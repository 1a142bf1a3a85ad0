package integration

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store/crypt"
)

// produceSecrets writes a small kcat dataset to topic: 3 partitions,
// keyed and null-keyed records, tombstones and headers, every value
// carrying marker so that the raw objects can be grepped for it.
func produceSecrets(t *testing.T, addr, topic, marker string) {
	t.Helper()
	needKcat(t)
	createTopic(t, addr, topic, 3, nil)
	var b strings.Builder
	for n := 0; n < 3000; n++ {
		switch {
		case n%7 == 0:
			fmt.Fprintf(&b, "%s value without key %d\n", marker, n)
		case n%11 == 0:
			fmt.Fprintf(&b, "%s-key-%d:\n", marker, n) // tombstone
		default:
			fmt.Fprintf(&b, "%s-key-%d:{\"n\":%d,\"card\":\"%s\"}\n", marker, n, n, marker)
		}
	}
	kcatProduce(t, []string{"-P", "-b", addr, "-t", topic, "-K:", "-Z", "-z", "zstd", "-H", "pii=" + marker, "-X", "linger.ms=20"}, b.String())
}

// oneLineFailure fails the test unless r is a non-zero exit whose stderr
// is one line holding each of want, without a panic.
func oneLineFailure(t *testing.T, what string, r result, want ...string) {
	t.Helper()
	msg := strings.TrimSpace(r.stderr)
	if r.code == 0 || strings.Contains(r.stderr, "panic") || strings.Count(msg, "\n") != 0 {
		t.Errorf("%s: exit %d, want one line on stderr:\n%s", what, r.code, r.stderr)
		return
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: %q does not name %q", what, msg, w)
		}
	}
}

// TestEncryptedMountAndServe backs up a kcat dataset with an encryption
// key, then reads it with the real binary through the mount and through
// serve: the records equal kcat's, a copy into the mount's restore/
// restores the topic (checked with kcat), and without the key (or with
// another one) mount and serve stop at start in one line naming
// --encryption-key.
func TestEncryptedMountAndServe(t *testing.T) {
	const topic, marker = "cardholders", "SECRETPAN4111"
	c := startCluster(t)
	produceSecrets(t, c.Addr(), topic, marker)
	key := "base64key://" + base64.URLEncoding.EncodeToString(crypt.NewSalt())
	other := "base64key://" + base64.URLEncoding.EncodeToString(crypt.NewSalt())
	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--segment-bytes", "64KiB", "--encryption-key", key); r.code != 0 {
		t.Fatalf("encrypted backup: exit %d: %s", r.code, r.stderr)
	}
	want := kcatRead(t, c.Addr(), topic)
	if n := len(want[0]) + len(want[1]) + len(want[2]); n != 3000 {
		t.Fatalf("kcat reads %d records, want 3000", n)
	}
	t.Run("objects leak no record or topic name", func(t *testing.T) {
		// The dataset is backed up; the grep here guards against a
		// reader path that writes plaintext (a cache, a restore state).
		grepStorage(t, dir, marker, topic)
	})

	t.Run("without the key", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args []string
			want []string
		}{
			{"mount without a key", []string{"mount", "--storage", dir, t.TempDir()}, []string{"--encryption-key", "base64key://…"}},
			{"mount with another key", []string{"mount", "--storage", dir, "--encryption-key", other, t.TempDir()}, []string{"wrong encryption key", "base64key://…"}},
			{"serve without a key", []string{"serve", "--storage", dir, "--listen", freeAddr(t)}, []string{"--encryption-key", "base64key://…"}},
			{"serve with another key", []string{"serve", "--storage", dir, "--listen", freeAddr(t), "--encryption-key", other}, []string{"wrong encryption key"}},
		} {
			// A command that wrongly starts would serve until killed:
			// give it 30s, then unmount what it may have left.
			r := kbackupEnv(t, 30*time.Second, nil, tc.args...)
			if mp := tc.args[len(tc.args)-1]; tc.args[0] == "mount" {
				_ = exec.Command("fusermount3", "-u", "-z", mp).Run()
			}
			oneLineFailure(t, tc.name, r, tc.want...)
			t.Logf("%s: exit %d: %s", tc.name, r.code, strings.TrimSpace(r.stderr))
			secret := strings.TrimPrefix(other, "base64key://")
			if strings.Contains(r.stderr, secret) || strings.Contains(r.stderr, strings.TrimPrefix(key, "base64key://")) {
				t.Errorf("%s: the error shows a key: %s", tc.name, r.stderr)
			}
		}
	})

	t.Run("mount", func(t *testing.T) {
		mp := mountKbackup(t, dir, "--brokers", c.Addr(), "--encryption-key", key)
		snap := filepath.Join(mp, "topics", topic, "snapshots/v1")
		if got := shell(t, "ls "+mp+"/topics"); got != topic+"\n" {
			t.Fatalf("ls topics: %q", got)
		}
		for p := int32(0); p < 3; p++ {
			f := fmt.Sprintf("%s/%d/records.jsonl", snap, p)
			if got, exp := shell(t, "jq -c '[.offset,.key,.value]' "+f), jqLines(want[p]); got != exp {
				t.Fatalf("partition %d: jq of records.jsonl differs from kcat (%d vs %d bytes)", p, len(got), len(exp))
			}
			// The mount's sizes are exact: stat agrees with what cat reads.
			if size, n := strings.TrimSpace(shell(t, "stat -c %s "+f)), strings.TrimSpace(shell(t, "cat "+f+" | wc -c")); size != n {
				t.Errorf("partition %d: stat says %s bytes, cat reads %s", p, size, n)
			}
			if got := shell(t, "tail -n 1 "+f+" | jq -c '[.offset,.key,.value]'"); got != jqLines(want[p][len(want[p])-1:]) {
				t.Errorf("partition %d: tail -n 1: %s", p, got)
			}
		}
		shell(t, "cp -r "+snap+" "+mp+"/restore/"+topic+"-copy")
		st := waitPhase(t, mp, topic+"-copy", "Done", 60*time.Second)
		if !strings.Contains(st, "target: "+topic+"-copy") {
			t.Errorf("status:\n%s", st)
		}
		sameRecords(t, topic+"-copy", content(want), content(kcatRead(t, c.Addr(), topic+"-copy")))
		grepStorage(t, dir, marker, topic)
	})

	t.Run("serve", func(t *testing.T) {
		addr := freeAddr(t)
		base := "http://" + addr
		cmd, logs := startKbackup(t, "serve", "--storage", dir, "--listen", addr, "--refresh", "1s", "--encryption-key", key)
		t.Cleanup(func() { stopServe(t, cmd, logs) })
		waitFor(t, 10*time.Second, "the server", func() bool {
			resp, err := http.Get(base + "/topics/")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil && resp.StatusCode == 200
		})
		for p := int32(0); p < 3; p++ {
			resp, err := http.Get(fmt.Sprintf("%s/topics/%s/latest/%d/records.jsonl", base, topic, p))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET partition %d: %d %v", p, resp.StatusCode, err)
			}
			jq := exec.Command("jq", "-c", "[.offset,.key,.value]")
			jq.Stdin = bytes.NewReader(body)
			got, err := jq.Output()
			if err != nil {
				t.Fatalf("jq: %v", err)
			}
			if exp := jqLines(want[p]); string(got) != exp {
				t.Fatalf("partition %d: GET records.jsonl differs from kcat (%d vs %d bytes)", p, len(got), len(exp))
			}
		}
	})
}

// stopServe stops `kbackup serve` with SIGINT and expects exit 0.
func stopServe(t *testing.T, cmd *exec.Cmd, logs fmt.Stringer) {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("kbackup serve exited with %v after SIGINT:\n%s", err, logs)
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("kbackup serve did not exit after SIGINT:\n%s", logs)
	}
}

// grepStorage fails the test if any object under dir holds one of words.
func grepStorage(t *testing.T, dir string, words ...string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for _, w := range words {
			if bytes.Contains(b, []byte(w)) {
				t.Errorf("object %s holds %q in plaintext", strings.TrimPrefix(path, dir), w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("only %d objects under %s", n, dir)
	}
}
