package integration

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store/crypt"
)

// TestEncryptionKeySources checks the three ways to give the key with the
// built binary: the configuration file's encryption.key,
// KBACKUP_ENCRYPTION_KEY and --encryption-key, the flag before the
// environment before the file.
func TestEncryptionKeySources(t *testing.T) {
	c := startCluster(t)
	createTopic(t, c.Addr(), "src", 2, nil)
	produceN(t, c.Addr(), "src", 2, 0, 50)
	newKey := func() string { return "base64key://" + base64.URLEncoding.EncodeToString(crypt.NewSalt()) }
	key, other := newKey(), newKey()
	dir := t.TempDir()
	storage := filepath.Join(dir, "store")
	cfg := filepath.Join(dir, "kbackup.yaml")
	body := "brokers: [" + c.Addr() + "]\nstorage: " + storage + "\nencryption:\n  key: " + key + "\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(kv ...string) []string { return append(os.Environ(), kv...) }
	run := func(e []string, args ...string) result { return kbackupEnv(t, time.Minute, e, args...) }

	if r := run(nil, "backup", "--once", "--config", cfg); r.code != 0 {
		t.Fatalf("backup keyed by the config file: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(storage, ".kbackup+encryption")); err != nil {
		t.Fatalf("the config file's key did not make the backup encrypted: %v", err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		ok   bool
	}{
		{"config file", nil, []string{"--config", cfg}, true},
		{"environment", env("KBACKUP_ENCRYPTION_KEY=" + key), []string{"--storage", storage}, true},
		{"flag over environment", env("KBACKUP_ENCRYPTION_KEY=" + other), []string{"--storage", storage, "--encryption-key", key}, true},
		{"environment over config file", env("KBACKUP_ENCRYPTION_KEY=" + other), []string{"--config", cfg}, false},
		{"none", nil, []string{"--storage", storage}, false},
	} {
		r := run(tc.env, append([]string{"verify"}, tc.args...)...)
		switch {
		case tc.ok && (r.code != 0 || !strings.Contains(r.stdout, " 0 damaged")):
			t.Errorf("%s: verify exit %d: %s%s", tc.name, r.code, r.stdout, r.stderr)
		case !tc.ok:
			oneLineFailure(t, tc.name, r, "encryption")
		}
	}
}
