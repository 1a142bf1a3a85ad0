// Object-storage emulators for the cloud tests, each started by the test that
// needs it on a free port of 127.0.0.1 and stopped in its clean-up:
//
//   - S3: gofakes3, in-process (always available).
//   - GCS: fake-gcs-server, found through $KBACKUP_FAKE_GCS, then
//     $KBACKUP_EMULATOR_CACHE/bin (default ~/.cache/kbackup-emulators), then PATH.
//   - Azure: Azurite's azurite-blob, found through $KBACKUP_AZURITE, then
//     $KBACKUP_EMULATOR_CACHE/azurite/node_modules/.bin, then PATH.
//
// integration/setup-emulators.sh installs both into the cache. A missing
// emulator fails the test when KBACKUP_REQUIRE_EMULATORS=1 (CI) and skips it
// loudly otherwise. Used by the store tests and the integration tests.

package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const (
	// Bucket is the bucket (container) every emulator is started with.
	Bucket = "bucket"
	// azuriteKey is Azurite's published development account key.
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Emulator is one backend's server: Start runs it and returns its
// HOST:PORT; URL sets the environment a client of the server at host needs
// (with t.Setenv, so not in parallel tests) and returns the storage URL, with
// query ("&k=v…") appended.
type Emulator struct {
	Name  string
	Start func(t testing.TB) string
	URL   func(t testing.TB, host, query string) string
}

// Emulators are the cloud backends, in the order tests run them.
var Emulators = []Emulator{
	{Name: "S3", Start: func(t testing.TB) string { return StartS3(t).Host }, URL: S3URL},
	{Name: "GCS", Start: StartGCS, URL: GCSURL},
	{Name: "Azure", Start: StartAzure, URL: AzureURL},
}

// S3Server is an in-process gofakes3 server that counts the HTTP requests
// it answers.
type S3Server struct {
	Host     string
	Parts    atomic.Int64 // UploadPart requests
	Requests atomic.Int64 // every request, of any kind
}

// StartS3 starts an in-process S3 server on 127.0.0.1 holding the bucket
// Bucket; it stops when the test ends.

func StartS3(t testing.TB) *S3Server {
	be := s3mem.New()
	if err := be.CreateBucket(Bucket); err != nil {
		t.Fatal(err)
	}
	srv := &S3Server{}
	h := gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.Requests.Add(1)
		if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") != "" {
			srv.Parts.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	srv.Host = strings.TrimPrefix(ts.URL, "http://")
	return srv
}

func S3URL(t testing.TB, host, query string) string {
	t.Setenv("AWS_ACCESS_KEY_ID", "kbackup-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "kbackup-test-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return fmt.Sprintf("s3://%s?endpoint=http://%s&use_path_style=true&region=us-east-1%s", Bucket, host, query)
}

func StartGCS(t testing.TB) string {
	bin := emulatorBinary(t, "KBACKUP_FAKE_GCS", "bin/fake-gcs-server", "fake-gcs-server")
	host := startProcess(t, "fake-gcs-server", func(port int) *exec.Cmd {
		p := fmt.Sprint(port)
		return exec.Command(bin, "-backend", "memory", "-scheme", "http", "-host", "127.0.0.1", "-port", p,
			"-public-host", "127.0.0.1:"+p, "-external-url", "http://127.0.0.1:"+p, "-log-level", "error")
	})
	body := strings.NewReader(`{"name":"` + Bucket + `"}`)
	resp, err := http.Post("http://"+host+"/storage/v1/b?project=kbackup", "application/json", body)
	if err != nil {
		t.Fatalf("create GCS bucket: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create GCS bucket: %s", resp.Status)
	}
	return host
}

func GCSURL(t testing.TB, host, query string) string {
	t.Setenv("STORAGE_EMULATOR_HOST", host)
	return "gs://" + Bucket + strings.Replace(query, "&", "?", 1)
}

func StartAzure(t testing.TB) string {
	bin := emulatorBinary(t, "KBACKUP_AZURITE", "azurite/node_modules/.bin/azurite-blob", "azurite-blob")
	dir := t.TempDir()
	host := startProcess(t, "azurite-blob", func(port int) *exec.Cmd {
		c := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port), "--inMemoryPersistence",
			"--disableTelemetry", "--skipApiVersionCheck", "--silent")
		c.Dir = dir // anything Azurite writes stays in the test's directory
		return c
	})
	cred, err := azblob.NewSharedKeyCredential(azuriteAccount, azuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := azblob.NewClientWithSharedKeyCredential("http://"+host+"/"+azuriteAccount+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateContainer(context.Background(), Bucket, nil); err != nil {
		t.Fatalf("create Azure container: %v", err)
	}
	return host
}

func AzureURL(t testing.TB, host, query string) string {
	t.Setenv("AZURE_STORAGE_ACCOUNT", azuriteAccount)
	t.Setenv("AZURE_STORAGE_KEY", azuriteKey)
	return fmt.Sprintf("azblob://%s?protocol=http&domain=%s&localemu=true%s", Bucket, host, query)
}

// emulatorBinary finds an emulator executable or fails/skips the test.
func emulatorBinary(t testing.TB, env, cached, name string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	cache := os.Getenv("KBACKUP_EMULATOR_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "kbackup-emulators")
	}
	if p := filepath.Join(cache, cached); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found (set $%s, or run integration/setup-emulators.sh to install it into %s)", name, env, cache)
	if os.Getenv("KBACKUP_REQUIRE_EMULATORS") == "1" {
		t.Fatal(msg)
	}
	fmt.Fprintf(os.Stderr, "SKIPPING %s: %s\n", t.Name(), msg)
	t.Skip("SKIPPED: " + msg)
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// startProcess runs the command mk builds for a free port until the port
// answers, and stops its process group at clean-up.
func startProcess(t testing.TB, name string, mk func(port int) *exec.Cmd) string {
	for try := 0; ; try++ {
		port := freePort(t)
		cmd := mk(port)
		var out SyncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		host := fmt.Sprintf("127.0.0.1:%d", port)
		if waitPort(host, exited, 30*time.Second) {
			t.Cleanup(stop)
			return host
		}
		stop()
		if try == 2 {
			t.Fatalf("%s did not start on %s:\n%s", name, host, out.String())
		}
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPort(host string, exited <-chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// SyncBuffer is a bytes.Buffer that a writing process and a reading test
// may use at once.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
