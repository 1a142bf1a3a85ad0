package integration

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// binary is the kbackup binary built once for the package.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// The edit loop (go test -short ./...) leaves out the built binary,
		// real mounts and emulators; make test runs them.
		fmt.Println("integration: skipped with -short (make test runs it)")
		os.Exit(0)
	}
	if topic := os.Getenv(holdLeaseEnv); topic != "" {
		holdLease(topic) // a child process of TestMetricsAndHealth
		return
	}
	// Daemons serve metrics on a free port: tests run beside each other
	// and beside other daemons of this machine.
	os.Setenv("KBACKUP_METRICS_ADDR", "127.0.0.1:0")
	dir, err := os.MkdirTemp("", "kbackup-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "kbackup")
	// Restores keep their offset maps here, not in the home directory.
	os.Setenv("KBACKUP_STATE_DIR", filepath.Join(dir, "state"))
	build := exec.Command("go", "build", "-o", binary, "../cmd/kbackup")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build kbackup:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needKcat fails the test when Debian's kcat is missing: CI installs it.
func needKcat(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat is not installed (apt-get install -y kcat); `make test` installs it")
	}
}

func startCluster(t *testing.T) *devcluster.Cluster {
	t.Helper()
	c, err := devcluster.Start(devcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func client(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t testing.TB, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(client(t, addr))
	resp, err := adm.CreateTopic(context.Background(), partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// result is a finished kbackup run.
type result struct {
	code           int
	stdout, stderr string
}

// kbackup runs the binary to completion.
func kbackup(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run kbackup %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

// startKbackup starts the binary in the background; the caller stops it.
func startKbackup(t *testing.T, args ...string) (*exec.Cmd, *storetest.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	logs := &storetest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, logs
}

// rec is one record in a comparable form.
type rec struct {
	Partition int32
	Offset    int64
	Timestamp int64
	Key       *string
	Value     *string
	Headers   string // "k=v,k2=v2" as kcat prints them
}

func (r rec) String() string {
	s := func(p *string) string {
		if p == nil {
			return "<null>"
		}
		if len(*p) > 40 {
			return fmt.Sprintf("%q…(%d bytes)", (*p)[:40], len(*p))
		}
		return strconv.Quote(*p)
	}
	return fmt.Sprintf("p%d@%d ts=%d key=%s value=%s headers=%q", r.Partition, r.Offset, r.Timestamp, s(r.Key), s(r.Value), r.Headers)
}

// kcatRead reads every committed record of topic with kcat.
func kcatRead(t *testing.T, addr, topic string) map[int32][]rec {
	t.Helper()
	cmd := exec.Command("kcat", "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q",
		"-X", "fetch.message.max.bytes=16777216", "-X", "receive.message.max.bytes=100000000",
		"-f", "%p\t%o\t%T\t%K\t%S\t%k\t%s\t%h\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat -C %s: %v", topic, err)
	}
	res := map[int32][]rec{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<20), 64<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 8)
		if len(f) != 8 {
			t.Fatalf("kcat line %q", sc.Text())
		}
		p, _ := strconv.Atoi(f[0])
		r := rec{Partition: int32(p), Headers: f[7]}
		r.Offset, _ = strconv.ParseInt(f[1], 10, 64)
		r.Timestamp, _ = strconv.ParseInt(f[2], 10, 64)
		if f[3] != "-1" {
			k := f[5]
			r.Key = &k
		}
		if f[4] != "-1" {
			v := f[6]
			r.Value = &v
		}
		res[r.Partition] = append(res[r.Partition], r)
	}
	return res
}

// storageRead reads every stored record of topic's snapshot version
// (0: the active one; -1: the flat layout) through the store API, checking
// offsets are continuous between segments. Expired segments that retention
// deleted are skipped.
func storageRead(t *testing.T, dir, topic string, version int) map[int32][]rec {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if version == -1 {
		version = 0
	} else if version == 0 {
		m, err := st.ReadManifest(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		version = m.Active
	}
	loc := store.Loc{Topic: topic, Version: version}
	res := map[int32][]rec{}
	ix, err := st.ReadIndex(ctx, loc)
	if store.IsNotFound(err) {
		return res // nothing indexed yet
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ix.PartitionIDs() {
		var next int64 = -1
		for _, e := range ix.Partition(p) {
			if next >= 0 && e.StartOffset != next {
				t.Errorf("%s partition %d: segment %s starts at %d, previous ended at %d", loc, p, e.ULID, e.StartOffset, next)
			}
			next = e.NextOffset
			sr, err := st.OpenSegment(ctx, loc, e.ULID, e.StoredBytes)
			if store.IsNotFound(err) && e.Expired(time.Now()) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			err = sr.Records(0, func(r *store.Record) error {
				x := rec{Partition: p, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli()}
				if r.Key != nil {
					k := string(r.Key)
					x.Key = &k
				}
				if r.Value != nil {
					v := string(r.Value)
					x.Value = &v
				}
				var hs []string
				for _, h := range r.Headers {
					hs = append(hs, h.Key+"="+string(h.Value))
				}
				x.Headers = strings.Join(hs, ",")
				res[p] = append(res[p], x)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return res
}

// sameRecords fails the test unless got and want hold the same records.
func sameRecords(t *testing.T, what string, want, got map[int32][]rec) {
	t.Helper()
	for p := range got {
		if _, ok := want[p]; !ok && len(got[p]) > 0 {
			t.Errorf("%s: partition %d has %d records that should not be there", what, p, len(got[p]))
		}
	}
	for p, w := range want {
		g := got[p]
		if len(g) != len(w) {
			t.Errorf("%s: partition %d: %d records, want %d", what, p, len(g), len(w))
		}
		for i := 0; i < min(len(g), len(w)); i++ {
			if g[i].String() != w[i].String() || !sameStr(g[i].Key, w[i].Key) || !sameStr(g[i].Value, w[i].Value) {
				t.Fatalf("%s: partition %d record %d:\n got %v\nwant %v", what, p, i, g[i], w[i])
			}
		}
	}
}

func sameStr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}
