package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// TestReadOnlyCommandsNeedBackup: a mistyped storage path is not an empty
// backup. Commands that read storage create nothing and fail with one line
// naming the path, both for a missing directory and for one that holds no
// kbackup layout (except mount, which shows topics as they appear and only
// warns about an empty storage).
func TestReadOnlyCommandsNeedBackup(t *testing.T) {
	t.Setenv("KBACKUP_STORAGE", "")
	mp := t.TempDir()
	cmds := [][]string{
		{"verify"},
		{"describe"},
		{"snapshot", "list", "--all"},
		{"index", "show", "orders"},
		{"mount", mp},
		{"restore", "--brokers", "127.0.0.1:1", "--topic", "orders"},
	}
	for _, cmd := range cmds {
		t.Run(strings.Join(cmd[:1], " "), func(t *testing.T) {
			base := t.TempDir()
			missing := filepath.Join(base, "typo2")
			empty := filepath.Join(base, "empty")
			if err := os.MkdirAll(filepath.Join(empty, "notatopic"), 0o755); err != nil {
				t.Fatal(err)
			}
			dirs := []string{missing, empty}
			if cmd[0] == "mount" {
				dirs = dirs[:1]
			}
			for _, dir := range dirs {
				args := withStorage(cmd, dir)
				out, errOut, code := run(t, args...)
				if code != exitFailure {
					t.Errorf("%v: exit %d, want %d; stdout %q stderr %q", args, code, exitFailure, out, errOut)
				}
				if lines := strings.Count(errOut, "\n"); lines != 1 || !strings.Contains(errOut, dir) || !strings.Contains(errOut, "no kbackup backup") {
					t.Errorf("%v: stderr %q: want one line naming %s", args, errOut, dir)
				}
			}
			if _, err := os.Stat(missing); !os.IsNotExist(err) {
				t.Errorf("%v created %s (%v)", cmd, missing, err)
			}
		})
	}
}

// withStorage returns cmd with "--storage DIR" right after the command
// words.
func withStorage(cmd []string, dir string) []string {
	i := 1
	if cmd[0] == "snapshot" || cmd[0] == "index" {
		i = 2
	}
	out := append([]string{}, cmd[:i]...)
	out = append(out, "--storage", dir)
	return append(out, cmd[i:]...)
}

// TestFlagsAfterArguments: flags are read wherever they stand, as in kcat
// and kubectl; after "--" everything is an argument.
func TestFlagsAfterArguments(t *testing.T) {
	_, dir := knownStorage(t)
	t.Setenv("KBACKUP_STORAGE", "")
	out, errOut, code := run(t, "snapshot", "list", "orders", "--storage", dir, "-o", "json")
	if code != exitOK || !strings.HasPrefix(out, "{") || !strings.Contains(out, `"topic": "orders"`) {
		t.Fatalf("snapshot list orders --storage DIR -o json: exit %d: %s%s", code, out, errOut)
	}
	before, _, _ := run(t, "index", "show", "--storage", dir, "--snapshot", "1", "orders")
	after, errOut, code := run(t, "index", "show", "orders", "--snapshot=1", "--storage", dir)
	if code != exitOK || after != before {
		t.Fatalf("index show orders --snapshot=1: exit %d: %q, want %q (%s)", code, after, before, errOut)
	}
	if out, errOut, code := run(t, "verify", "--storage", dir, "--", "orders"); code != exitOK || !strings.Contains(out, "orders/v2") {
		t.Fatalf("verify -- orders: exit %d: %s%s", code, out, errOut)
	}
	// "-o" is a legal Kafka topic name: after "--" it is taken as one.
	if _, errOut, code := run(t, "snapshot", "list", "--storage", dir, "--", "-o"); code == exitOK || !strings.Contains(errOut, `topic "-o" has no backup`) {
		t.Fatalf("snapshot list -- -o: exit %d: %s", code, errOut)
	}
	if _, errOut, code := run(t, "verify", "orders", "--storage", dir, "--no-such-flag"); code != exitUsage || !strings.Contains(errOut, "no-such-flag") {
		t.Fatalf("unknown flag after an argument: exit %d: %s", code, errOut)
	}
}

// TestOutputFormatsOneSet: every command takes -o text|json|yaml (table is
// text); anything else is a usage error, before any work.
func TestOutputFormatsOneSet(t *testing.T) {
	knownStorage(t)
	cmds := [][]string{
		{"snapshot", "list", "orders"},
		{"index", "show", "orders"},
		{"describe", "orders"},
		{"verify", "orders"},
		{"version"},
	}
	for _, cmd := range cmds {
		for _, f := range []string{"text", "table", "json", "yaml"} {
			out, errOut, code := run(t, append(cmd, "-o", f)...)
			if code != exitOK || out == "" {
				t.Errorf("%v -o %s: exit %d: %s", cmd, f, code, errOut)
			}
		}
		if _, errOut, code := run(t, append(cmd, "-o", "xml")...); code != exitUsage || !strings.Contains(errOut, "use text, json or yaml") {
			t.Errorf("%v -o xml: exit %d: %s", cmd, code, errOut)
		}
	}
	dir := t.TempDir()
	for _, cmd := range [][]string{
		{"backup", "--once", "--brokers", "127.0.0.1:1", "--storage", dir},
		{"restore", "--brokers", "127.0.0.1:1", "--storage", dir, "--topic", "orders"},
	} {
		if _, errOut, code := run(t, append(cmd, "-o", "xml")...); code != exitUsage || !strings.Contains(errOut, "use text, json or yaml") {
			t.Errorf("%v -o xml: exit %d: %s", cmd[0], code, errOut)
		}
	}
}

func TestEncodeDataYAMLKeepsJSONNames(t *testing.T) {
	v := struct {
		B int      `json:"bytes_read"`
		A []string `json:"topics"`
	}{3, []string{"x", "y:z"}}
	var b strings.Builder
	if err := encodeData(&b, formatYAML, v); err != nil {
		t.Fatal(err)
	}
	if want := "bytes_read: 3\ntopics:\n  - x\n  - y:z\n"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		out, errOut, code := run(t, args...)
		if code != exitOK || !strings.HasPrefix(out, "kbackup ") || !strings.Contains(out, "\ncommit: ") || !strings.Contains(out, "\ngo: go1.") {
			t.Errorf("%v: exit %d: %q %s", args, code, out, errOut)
		}
	}
}

// TestHelpOneDefault: no flag shows two defaults in --help.
func TestHelpOneDefault(t *testing.T) {
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(append([]string{}, path...), c.Name)
			if len(c.Subcommands) > 0 {
				walk(p, c.Subcommands)
				continue
			}
			out, errOut, code := run(t, append(p, "--help")...)
			if code != exitOK {
				t.Errorf("%v --help: exit %d: %s", p, code, errOut)
			}
			for _, l := range strings.Split(out, "\n") {
				if strings.Count(l, "(default") > 1 {
					t.Errorf("%v --help: %q", p, strings.TrimSpace(l))
				}
			}
		}
	}
	walk(nil, commands())
}

// TestUsageErrorsExit2: what docs/cli.md calls usage errors exits 2.
func TestUsageErrorsExit2(t *testing.T) {
	knownStorage(t)
	cfg := filepath.Join(t.TempDir(), "kbackup.yaml")
	if err := os.WriteFile(cfg, []byte("storage: /tmp/x\nbackup:\n  segmnt_age: 1m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"no-such-command"},
		{"verify", "--no-such-flag"},
		{"index", "show"},
		{"verify", "--config", cfg},
		{"backup", "--config", cfg},
		{"verify", "--config", filepath.Join(t.TempDir(), "missing.yaml")},
		{"backup", "--brokers", "127.0.0.1:1", "--storage", t.TempDir(), "--once", "--group-id", "g"},
	} {
		if _, errOut, code := run(t, args...); code != exitUsage || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, want %d: %q", args, code, exitUsage, errOut)
		}
	}
}

// TestEmptySASLPasswordIsConfigError: an empty SASL password is a
// configuration mistake (exit 2), not "brokers unreachable".
func TestEmptySASLPasswordIsConfigError(t *testing.T) {
	t.Setenv("KBACKUP_SASL_PASSWORD", "")
	cfg := filepath.Join(t.TempDir(), "kbackup.yaml")
	if err := os.WriteFile(cfg, []byte("kafka:\n  sasl:\n    mechanism: PLAIN\n    username: u\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "backup", "--once", "--config", cfg, "--brokers", "127.0.0.1:1", "--storage", t.TempDir())
	if code != exitUsage || !strings.Contains(errOut, "password is empty") || strings.Contains(errOut, "unreachable") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// TestMisspelledFieldNamed: a misspelled config or spec key is named with
// its file and line, and the nearest valid key is suggested.
func TestMisspelledFieldNamed(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kbackup.yaml")
	if err := os.WriteFile(cfg, []byte("storage: /tmp/x\nbackup:\n  segmnt_age: 1m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "backup", "--config", cfg)
	if want := cfg + `:3: unknown field "segmnt_age" (did you mean segment_age?)`; code != exitUsage || !strings.Contains(errOut, want) {
		t.Errorf("config: exit %d: %q, want %q", code, errOut, want)
	}
	spec := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(spec, []byte("kind: Restore\nspec:\n  config:\n    createTopic: true\n    topics:\n      - source: orders\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = run(t, "restore", "--brokers", "127.0.0.1:1", "-f", spec)
	if want := spec + `:4: unknown field "createTopic" (did you mean createTopics?)`; code != exitUsage || !strings.Contains(errOut, want) || strings.Contains(errOut, "engine.") {
		t.Errorf("spec: exit %d: %q, want %q", code, errOut, want)
	}
}

// TestEmptyVersionCommands: every read command handles a version that holds
// no segment yet (as left by snapshot create).
func TestEmptyVersionCommands(t *testing.T) {
	knownStorage(t)
	if _, errOut, code := run(t, "snapshot", "create", "orders"); code != exitOK {
		t.Fatalf("snapshot create: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{
		{"index", "show", "orders"},
		{"index", "show", "orders", "-o", "json"},
		{"describe", "orders"},
		{"verify", "orders"},
		{"verify", "--all-snapshots", "orders"},
		{"snapshot", "list", "orders"},
	} {
		out, errOut, code := run(t, args...)
		if code != exitOK || errOut != "" {
			t.Errorf("%v: exit %d: %s%s", args, code, out, errOut)
		}
	}
	out, _, _ := run(t, "index", "show", "orders")
	if !strings.Contains(out, "Snapshot: v3  Segments: 0  Records: 0") || !strings.Contains(out, "holds no segment") {
		t.Errorf("index show of the empty v3: %q", out)
	}
}

// TestDaemonLogsProgress: the daemon is not silent while it works: a debug
// line per segment stored, and a periodic info summary per topic with
// records, bytes and lag.
func TestDaemonLogsProgress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := devCluster(t, ctx, true)
	dctx, stop := context.WithTimeout(ctx, 3*time.Second)
	defer stop()
	_, _, errOut := runCtx(dctx, "backup", "--brokers", c.Addr(), "--storage", t.TempDir(), "--topic", "orders",
		"--log-level", "debug", "--segment-age", "200ms", "--summary-interval", "500ms")
	for _, want := range []string{`msg="segment stored" topic=orders snapshot=orders/v1 partition=`, `msg="backup progress" topic=orders snapshot=orders/v1 records=`, " lag="} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the daemon's log lacks %q:\n%s", want, errOut)
		}
	}
}

// TestCat: records from storage without mounting, as JSON lines.
func TestCat(t *testing.T) {
	knownStorage(t)
	lines := func(args ...string) []map[string]any {
		t.Helper()
		out, errOut, code := run(t, append([]string{"cat"}, args...)...)
		if code != exitOK {
			t.Fatalf("cat %v: exit %d: %s", args, code, errOut)
		}
		var recs []map[string]any
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("cat %v: line %q: %v", args, l, err)
			}
			recs = append(recs, m)
		}
		return recs
	}
	all := lines("orders")
	if len(all) != 20 || all[0]["partition"] != 0.0 || all[0]["offset"] != 0.0 || all[19]["offset"] != 19.0 || all[0]["value"] == nil {
		t.Fatalf("cat orders: %d records, first %v", len(all), all[0])
	}
	some := lines("orders", "--snapshot", "1", "-p", "1", "--from-offset", "5", "--until-offset", "10")
	if len(some) != 5 {
		t.Fatalf("offsets 5-9 of partition 1: %d records", len(some))
	}
	for i, r := range some {
		if r["partition"] != 1.0 || r["offset"] != float64(5+i) {
			t.Fatalf("record %d: %v", i, r)
		}
	}
	if got := lines("orders", "-n", "3"); len(got) != 3 {
		t.Fatalf("-n 3: %d records", len(got))
	}
	if got := lines("orders", "--from-time", "2099-01-01T00:00:00Z"); len(got) != 0 {
		t.Fatalf("a window after the data: %d records", len(got))
	}
	if _, errOut, code := run(t, "cat", "orders", "-p", "7"); code != exitFailure || !strings.Contains(errOut, "partition 7") {
		t.Fatalf("cat -p 7: exit %d: %s", code, errOut)
	}
	if _, errOut, code := run(t, "cat", "orders", "--from-time", "yesterday"); code != exitUsage || !strings.Contains(errOut, "RFC 3339") {
		t.Fatalf("cat --from-time yesterday: exit %d: %s", code, errOut)
	}
}

// TestSnapshotDelete: an archived version is deleted whole, the active one
// never, and never while a backup holds the topic's lease.
func TestSnapshotDelete(t *testing.T) {
	st, dir := knownStorage(t)
	ctx := context.Background()
	l, err := st.AcquireLease(ctx, "orders", "a running backup", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, "snapshot", "delete", "orders", "v1"); code != exitLeaseHeld || !strings.Contains(errOut, "being backed up") {
		t.Fatalf("delete while the lease is held: exit %d: %s", code, errOut)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, "snapshot", "delete", "orders", "2"); code != exitFailure || !strings.Contains(errOut, "active version") {
		t.Fatalf("delete of the active version: exit %d: %s", code, errOut)
	}
	out, errOut, code := run(t, "snapshot", "delete", "orders", "v1")
	if code != exitOK || !strings.HasPrefix(out, "Topic: orders: deleted v1 (") {
		t.Fatalf("delete v1: exit %d: %s%s", code, out, errOut)
	}
	var left []string
	_ = filepath.WalkDir(filepath.Join(dir, "orders", "snapshots", "v1"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("objects of v1 left: %v", left)
	}
	if out, _, _ := run(t, "snapshot", "list", "orders"); strings.Contains(out, " v1 ") {
		t.Errorf("snapshot list still shows v1:\n%s", out)
	}
	if out, errOut, code := run(t, "verify", "--all-snapshots", "orders"); code != exitOK {
		t.Errorf("verify after delete: exit %d: %s%s", code, out, errOut)
	}
	if _, errOut, code := run(t, "snapshot", "delete", "orders", "v1"); code != exitFailure || !strings.Contains(errOut, "no snapshot v1") {
		t.Errorf("second delete: exit %d: %s", code, errOut)
	}
}
