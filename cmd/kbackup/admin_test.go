package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/store"
	fixture "github.com/kbackup/kbackup/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// knownStorage writes the known backup into a fresh directory and points
// KBACKUP_STORAGE at it.
func knownStorage(t *testing.T) (*store.Store, string) {
	t.Helper()
	st, dir := fixture.KnownStore(t)
	t.Setenv("KBACKUP_STORAGE", dir)
	return st, dir
}

// run runs kbackup in-process.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	code, stdout, stderr = runCtx(context.Background(), args...)
	return stdout, stderr, code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

func TestGoldenOutputs(t *testing.T) {
	knownStorage(t)
	tests := []struct {
		name string
		args []string
	}{
		{"snapshot_list", []string{"snapshot", "list", "orders"}},
		{"snapshot_list_all_json", []string{"snapshot", "list", "--all", "-o", "json"}},
		{"snapshot_list_yaml", []string{"snapshot", "list", "-o", "yaml", "orders"}},
		{"index_show", []string{"index", "show", "--snapshot", "1", "orders"}},
		{"index_show_json", []string{"index", "show", "-o", "json", "--snapshot", "v1", "orders"}},
		{"describe", []string{"describe"}},
		{"describe_json", []string{"describe", "-o", "json", "orders"}},
		{"verify", []string{"verify", "--all-snapshots"}},
		{"verify_json", []string{"verify", "-o", "json", "orders"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tc.name, out)
		})
	}
}

func TestVerifyDamageExitCode(t *testing.T) {
	st, dir := knownStorage(t)
	v1 := store.Loc{Topic: "orders", Version: 1}
	path := func(i int) string {
		return filepath.Join(dir, filepath.FromSlash(v1.SegmentKey(fixture.OrdersV1[i].ID)))
	}
	b, _ := os.ReadFile(path(1))
	b[300] ^= 1
	if err := os.WriteFile(path(1), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path(2), 100); err != nil {
		t.Fatal(err)
	}
	fixture.DeleteSegment(t, st, store.Loc{Topic: "orders", Version: 2}, fixture.OrdersV2[0].ID)
	out, errOut, code := run(t, "verify", "--all-snapshots", "orders")
	if code != exitDamage {
		t.Fatalf("exit %d, want %d: %s", code, exitDamage, errOut)
	}
	golden(t, "verify_damage", out)
	if !strings.Contains(errOut, "damage found") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestSnapshotCreateOffline(t *testing.T) {
	st, _ := knownStorage(t)
	out, errOut, code := run(t, "snapshot", "create", "orders")
	if code != exitOK || out != "Topic: orders: created v3; v2 archived\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
	m, err := st.ReadManifest(context.Background(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := m.Get(3)
	if m.Active != 3 || s.TopicID != fixture.TopicIDv2 || s.StartOffsets[0] != 20 || m.Snapshots[1].Archived == nil {
		t.Fatalf("manifest %+v", m)
	}
	if _, errOut, code := run(t, "snapshot", "create", "legacy"); code != exitFailure || !strings.Contains(errOut, "flat layout") {
		t.Fatalf("flat topic: exit %d: %s", code, errOut)
	}
	if out, errOut, code := run(t, "snapshot", "list"); code != exitOK || !strings.Contains(out, "Topic: orders") || !strings.Contains(out, "Topic: legacy") {
		t.Fatalf("no topic lists every topic: exit %d: %s%s", code, out, errOut)
	}
}

func TestIndexRebuildCommand(t *testing.T) {
	_, dir := knownStorage(t)
	if err := os.RemoveAll(filepath.Join(dir, "orders", "snapshots", "v1", "orders", "index.d")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "index", "rebuild", "--snapshot", "1", "orders")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "index_rebuild", out)
	if _, errOut, code := run(t, "verify", "--snapshot", "1", "orders"); code != exitOK {
		t.Fatalf("verify after rebuild: exit %d: %s", code, errOut)
	}
}
