package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store/crypt"
)

// TestVaultKeyErrors checks the hashivault:// scheme of --encryption-key
// with the built binary as far as can be done without a Vault server (none
// is packaged for Debian, and Vault's module cannot be go-installed): the
// scheme is known, and each way of failing to reach or use Vault is one
// line that names the key URL, never the token. Each case is a process of
// its own, since the driver reads VAULT_ADDR once per process.
func TestVaultKeyErrors(t *testing.T) {
	const key, token = "hashivault://kbackup-kek", "hvs.TESTTOKENDONOTPRINT"
	// denied answers every request as a Vault that refuses the token does.
	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"errors":["permission denied"]}` + "\n"))
	}))
	defer denied.Close()
	closed := "http://" + freeAddr(t)

	// wrapped is storage encrypted under the Vault key: its marker holds
	// a key wrapped by Vault (random bytes here: no call gets that far).
	wrapped := t.TempDir()
	m := crypt.Marker{Format: crypt.MarkerFormat, KEK: key, WrappedKey: []byte("vault:v1:" + rand.Text()), Check: bytes.Repeat([]byte{1}, 32)}
	if err := os.WriteFile(filepath.Join(wrapped, ".kbackup+encryption"), m.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     []string
		storage string
		want    []string
	}{
		{"no VAULT_ADDR", nil, t.TempDir(), []string{key, "VAULT_ADDR"}},
		{"new storage, Vault unreachable", []string{"VAULT_ADDR=" + closed}, t.TempDir(), []string{key, "cannot wrap the backup's key", "connection refused"}},
		{"encrypted storage, Vault unreachable", []string{"VAULT_ADDR=" + closed}, wrapped, []string{"key service unreachable", key, "connection refused"}},
		{"new storage, token refused", []string{"VAULT_ADDR=" + denied.URL}, t.TempDir(), []string{key, "cannot wrap the backup's key", "permission denied"}},
		{"encrypted storage, token refused", []string{"VAULT_ADDR=" + denied.URL}, wrapped, []string{"wrong encryption key", key, "permission denied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "VAULT_TOKEN=" + token}
			r := kbackupEnv(t, 30*time.Second, append(env, tc.env...), "verify", "--storage", tc.storage, "--encryption-key", key)
			oneLineFailure(t, tc.name, r, tc.want...)
			if strings.Contains(r.stderr, token) {
				t.Errorf("the error shows the Vault token: %s", r.stderr)
			}
			t.Logf("exit %d: %s", r.code, strings.TrimSpace(r.stderr))
			if _, err := os.Stat(filepath.Join(tc.storage, ".kbackup+encryption")); tc.storage != wrapped && err == nil {
				t.Errorf("a marker was written although Vault never wrapped the key")
			}
		})
	}
}

// kbackupEnv runs the binary to completion, or kills it after d, with
// exactly env (nil: this process's environment).
func kbackupEnv(t *testing.T, d time.Duration, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return result{ee.ExitCode(), out.String(), errb.String()}
	case err != nil:
		t.Fatalf("run kbackup %v: %v", args, err)
	}
	return result{0, out.String(), errb.String()}
}
