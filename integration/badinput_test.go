package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBadInput is acceptance 6: each mistake gives one clear line naming the
// problem, a non-zero exit, and no panic.
func TestBadInput(t *testing.T) {
	c := startCluster(t)
	createTopic(t, c.Addr(), "present", 1, nil)
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badYAML, []byte("brokers: [x\n"), 0o644)
	unknownKey := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknownKey, []byte("brokerz: [127.0.0.1:1]\n"), 0o644)
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	store := filepath.Join(dir, "store")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"backup", "--bogus"}, "flag provided but not defined: -bogus"},
		{"no brokers", []string{"backup", "--storage", store}, "no brokers given"},
		{"no storage", []string{"backup", "--brokers", c.Addr()}, "no storage given"},
		{"unreachable brokers", []string{"backup", "--brokers", "127.0.0.1:1", "--storage", store, "--dial-timeout", "2s"}, "refused the connection (nothing listens there): check --brokers and that Kafka runs"},
		{"bad broker address", []string{"backup", "--brokers", "nohostport", "--storage", store}, `broker "nohostport" is not HOST:PORT`},
		{"config does not parse", []string{"backup", "--config", badYAML}, "config file " + badYAML},
		{"config unknown key", []string{"backup", "--config", unknownKey}, `unknown field "brokerz" (did you mean brokers?)`},
		{"config missing", []string{"backup", "--config", filepath.Join(dir, "nope.yaml")}, "no such file"},
		{"unwritable storage", []string{"backup", "--brokers", c.Addr(), "--storage", filepath.Join(notDir, "sub"), "--once"}, "cannot be created"},
		{"regex matches nothing", []string{"backup", "--brokers", c.Addr(), "--storage", store, "--once", "--topic", "nomatch.*"}, "no topic matches"},
		{"invalid regex", []string{"backup", "--brokers", c.Addr(), "--storage", store, "--once", "--topic", "("}, "is not a valid regular expression"},
		{"bad compression", []string{"backup", "--brokers", c.Addr(), "--storage", store, "--compression", "brotli"}, `unknown compression "brotli"`},
		{"bad size", []string{"backup", "--brokers", c.Addr(), "--storage", store, "--segment-bytes", "lots"}, `segment size "lots" is not a size`},
		{"group session timeout refused", []string{"backup", "--brokers", c.Addr(), "--storage", store, "--group-id", "g", "--group-session-timeout", "1s"}, "the brokers refuse a session timeout of 1s"},
		{"group with --once", []string{"backup", "--brokers", c.Addr(), "--storage", store, "--group-id", "g", "--once"}, "cannot be combined with --once"},
		{"stray argument", []string{"backup", "--brokers", c.Addr(), "--storage", store, "present"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := kbackup(t, tc.args...)
			if r.code == 0 {
				t.Fatalf("exit 0, want failure; stdout %q stderr %q", r.stdout, r.stderr)
			}
			line := strings.TrimSpace(r.stderr)
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "kbackup: ") || !strings.Contains(line, tc.want) {
				t.Fatalf("stderr %q: want one line 'kbackup: …%s…'", r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Fatalf("panic: %s", r.stderr)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
	// In daemon mode a regex matching nothing is a warning: the daemon waits
	// for matching topics and exits 0 on SIGTERM.
	cmd, logs := startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", store, "--topic", "nomatch.*")
	waitFor(t, 10*time.Second, "the no-match warning", func() bool { return strings.Contains(logs.String(), "no topic matches yet") })
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, logs)
	}
}
