package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/engine/restore"
	"github.com/kbackup/kbackup/kafka/devcluster"
)

// runCtx runs kbackup in-process with ctx.
func runCtx(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(ctx, append([]string{"kbackup"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRestoreCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := devCluster(t, ctx, true)
	dir := t.TempDir()
	if code, _, stderr := runCtx(ctx, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--log-level", "warn"); code != 0 {
		t.Fatalf("backup: %d %s", code, stderr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	count := func(topic string) int64 {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				n += o.Offset
			}
		})
		return n
	}
	common := []string{"--brokers", c.Addr(), "--storage", dir, "--log-level", "warn"}

	// Usage errors: one line, exit 2, nothing produced or created.
	for _, args := range [][]string{
		{"--topic", "orders:o1", "--partition", "1=200-100", "--create-topics"},
		{"--topic", "orders:o1", "--partition", "x", "--create-topics"},
		{"--topic", "orders:o1", "--topic", "events", "--partition", "1"},
		{"--topic", "orders:o1", "--from-time", "2026-13-01", "--create-topics"},
		{"--topic", "orders:o1", "--snapshot", "vX"},
		{"--topic", "orders:o1", "--snapshot", "v2..v1", "--create-topics"},
		{"--topic", "orders:o1", "--snapshot", "v1..v2", "--partition", "0=5-", "--create-topics"},
		{"--topic", "orders:o1", "-o", "xml"},
		{"--topic", "orders:o1", "--retention", "sometimes"},
		{},
	} {
		code, _, stderr := runCtx(ctx, append(append([]string{"restore"}, common...), args...)...)
		if code != exitUsage || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	// Failures: exit 1 with a clear line.
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--topic", "orders:o1", "--snapshot", "7", "--create-topics"}, "no snapshot v7; available: v1"},
		{[]string{"--topic", "ghost:o1", "--create-topics"}, "ghost"},
		{[]string{"--topic", "orders:events"}, "topic events: partition count"},
		// The engine names the spec field, the command line adds its flag.
		{[]string{"--topic", "orders:o1"}, "topic o1: target exists: the topic does not exist in the cluster; create it with 3 partitions or set createTopics: true (on the command line createTopics is --create-topics)"},
		{[]string{"--topic", "orders:o1", "--from-time", "2099-01-01T00:00:00Z", "--create-topics"}, "the restore selects no record; snapshot orders/v1 holds"},
		{[]string{"--topic", "orders:o1", "--from-time", "2099-01-01T00:00:00Z", "--create-topics"}, "allowEmpty is --allow-empty"},
	} {
		code, _, stderr := runCtx(ctx, append(append([]string{"restore"}, common...), tc.args...)...)
		if code != exitFailure || !strings.Contains(stderr, tc.msg) {
			t.Fatalf("%v: exit %d, stderr %q", tc.args, code, stderr)
		}
		// The error is printed once, not as a log line and again.
		if n := strings.Count(stderr, "\n"); n != 1 {
			t.Errorf("%v: the error is printed %d times: %q", tc.args, n, stderr)
		}
	}
	if td, _ := adm.ListTopics(ctx, "o1"); td.Has("o1") && td["o1"].Err == nil {
		t.Fatal("failed restores created o1")
	}

	// A spec file in the Restore resource's form, with a flag overriding its ranges.
	spec := `apiVersion: kannika.io/v1alpha
kind: Restore
metadata:
  name: restore-example
spec:
  source: "my-volume-storage"
  sink: "my-kafka-cluster"
  enabled: true
  config:
    createTopics: true
    topics:
      - target: orders-copy
        source: orders
        partitions:
          - number: 0
            restoreUntilOffset: 100
          - number: 1
            restoreFromOffset: 50
            restoreUntilOffset: 1500
          - number: 2
      - target: events-copy
        source: events
        snapshot:
          version: 1
`
	file := filepath.Join(dir, "restore.yaml")
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCtx(ctx, append(append([]string{"restore"}, common...), "-f", file, "--parallelism", "2", "-o", "json")...)
	if code != 0 {
		t.Fatalf("restore -f: %d %s", code, stderr)
	}
	var res restore.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("json summary: %v: %s", err, stdout)
	}
	if res.Phase != restore.Done || len(res.Topics) != 2 || !strings.Contains(stdout, `"phase": "Done"`) {
		t.Fatalf("summary %s", stdout)
	}
	// orders: 1000 per partition; 100 + 950 + 1000.
	if got := count("orders-copy"); got != 2050 {
		t.Fatalf("orders-copy holds %d records, want 2050", got)
	}
	if got := count("events-copy"); got != 5000 {
		t.Fatalf("events-copy holds %d records, want 5000", got)
	}
	// Flags: --partition with open ends, text summary.
	code, stdout, stderr = runCtx(ctx, append(append([]string{"restore"}, common...), "--topic", "orders:o2", "--create-topics",
		"--partition", "0=-10", "--partition", "2=990-", "--partition", "1")...)
	if code != 0 || !strings.Contains(stdout, "o2") || !strings.Contains(stdout, "Done") {
		t.Fatalf("restore: %d %s %s", code, stdout, stderr)
	}
	if got := count("o2"); got != 10+10+1000 {
		t.Fatalf("o2 holds %d records, want 1020", got)
	}
	// Rerun: nothing new.
	code, stdout, _ = runCtx(ctx, append(append([]string{"restore"}, common...), "--topic", "orders:o2",
		"--partition", "0=-10", "--partition", "2=990-", "--partition", "1", "-o", "json")...)
	if code != 0 || !strings.Contains(stdout, `"produced": 0`) || count("o2") != 1020 {
		t.Fatalf("rerun: %d %s", code, stdout)
	}
	// --dry-run: the plan, preflight, nothing created or produced.
	code, stdout, stderr = runCtx(ctx, append(append([]string{"restore"}, common...), "--topic", "orders:o4", "--create-topics", "--dry-run",
		"--partition", "0=-10", "--partition", "1")...)
	if code != 0 || !strings.Contains(stdout, "o4 (created)") || !strings.Contains(stdout, "would restore 1010 records") {
		t.Fatalf("--dry-run: %d %s %s", code, stdout, stderr)
	}
	if td, _ := adm.ListTopics(ctx, "o4"); td.Has("o4") {
		t.Fatal("a dry run created o4")
	}
	if code, _, stderr = runCtx(ctx, append(append([]string{"restore"}, common...), "--topic", "orders:o4", "--dry-run")...); code != exitFailure || !strings.Contains(stderr, "target exists") {
		t.Fatalf("--dry-run with a failing preflight: %d %s", code, stderr)
	}
	// --allow-empty: a selection of nothing runs, and produces nothing.
	code, stdout, stderr = runCtx(ctx, append(append([]string{"restore"}, common...), "--topic", "orders:o3", "--create-topics",
		"--from-time", "2099-01-01T00:00:00Z", "--allow-empty", "-o", "json")...)
	if code != 0 || !strings.Contains(stdout, `"produced": 0`) {
		t.Fatalf("--allow-empty: %d %s %s", code, stdout, stderr)
	}
}

// devCluster starts an in-process dev cluster for the test, seeded with
// the sample topics when seed is set; it stops when the test ends.
func devCluster(t *testing.T, ctx context.Context, seed bool) *devcluster.Cluster {
	t.Helper()
	c, err := devcluster.Start(devcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if seed {
		if err := devcluster.Seed(ctx, c.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	return c
}
