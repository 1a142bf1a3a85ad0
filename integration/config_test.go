package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store/storetest"
)

// TestConfigFileSASL runs a backup configured only by a YAML file against a
// SCRAM-SHA-256 cluster, and checks the password shows neither in the
// process list nor in the logs.
func TestConfigFileSASL(t *testing.T) {
	const secret = "s3cr3t-Pa55word"
	c, err := devcluster.Start(devcluster.Options{SASL: devcluster.SASL{Mechanism: "SCRAM-SHA-256", User: "backup", Password: secret}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	dir := t.TempDir()
	n := 0
	cfg := func(pass string) string {
		n++
		p := filepath.Join(dir, "kbackup-"+strconv.Itoa(n)+".yaml")
		body := "brokers: [" + c.Addr() + "]\nstorage: " + filepath.Join(dir, "store") + "\n" +
			"kafka:\n  sasl:\n    mechanism: SCRAM-SHA-256\n    username: backup\n    password: " + pass + "\n" +
			"backup:\n  topics: [nothing-here]\n  once: true\n  compression: lz4\n  segment_bytes: 1MiB\n  segment_age: 30s\n" +
			"log_level: debug\n"
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Reaching the cluster and matching no topic proves authentication worked.
	cmd := exec.Command(binary, "backup", "--config", cfg(secret))
	var out storetest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ps, _ := exec.Command("ps", "-eo", "args").Output()
	_ = cmd.Wait()
	if !strings.Contains(out.String(), "no topic matches") {
		t.Fatalf("want the no-match error after authenticating, got %q", out.String())
	}
	if strings.Contains(string(ps), secret) || strings.Contains(out.String(), secret) {
		t.Fatal("the SASL password leaked into ps or the logs")
	}
	r := kbackup(t, "backup", "--config", cfg("wrong"), "--dial-timeout", "3s")
	if r.code == 0 || strings.Contains(r.stderr, "password: wrong") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Fatalf("wrong password: exit %d, %q", r.code, r.stderr)
	}
}

// TestDocumentedConfigParses keeps docs/configuration.md's complete example
// valid: every key in it must be one kbackup knows.
func TestDocumentedConfigParses(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no yaml example in docs/configuration.md")
	}
	cfg := filepath.Join(t.TempDir(), "example.yaml")
	if err := os.WriteFile(cfg, m[1], 0o600); err != nil {
		t.Fatal(err)
	}
	// The example's brokers do not exist: the run must get past parsing and
	// fail on the TLS files or the brokers, not on the configuration.
	start := time.Now()
	r := kbackup(t, "backup", "--config", cfg, "--brokers", "127.0.0.1:1", "--storage", t.TempDir(), "--dial-timeout", "1s")
	if r.code == 0 || strings.Contains(r.stderr, "config file") || strings.Contains(r.stderr, "not found in type") {
		t.Fatalf("documented config rejected: %s", r.stderr)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatal("took too long")
	}
}
