package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/integration/benchtab"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	rows := filepath.Join(dir, "rows.jsonl")
	row := benchtab.Row{Bench: "BenchmarkX", Rounds: 5, Load: benchtab.Load{Before: 3, After: 3.5, Cores: 2},
		Host: benchtab.Host{Cores: 2, CPU: "Test CPU", Go: "go1.26"}, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Figure: benchtab.Figure{ID: "x", Name: "restore vs kcat -P", Unit: "MB/s",
			Kbackup: benchtab.Side{Name: "kbackup restore", Samples: []float64{40, 42, 41, 39, 43}},
			Peer:    &benchtab.Side{Name: "kcat -P", Samples: []float64{20, 21, 19, 20, 22}},
			Goal:    benchtab.AtLeast(1, "issue 3")}}
	if err := benchtab.AppendRow(rows, row); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(dir, "performance.md")
	if err := os.WriteFile(doc, []byte("# P\n"+benchtab.DocBegin+"\nold\n"+benchtab.DocEnd+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(benchtab.OutEnv, "")
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		wantOut []string
	}{
		{"no input", nil, "no figures file", nil},
		{"missing file", []string{"-in", filepath.Join(dir, "nope")}, "no such file", nil},
		{"no figures", []string{"-in", empty}, "holds no figures", nil},
		{"table last", []string{"-in", rows}, "", []string{
			"BenchmarkX — 5 rounds", "Measured 2026-01-02 on 2 cores",
			"| restore vs kcat -P | 41 MB/s (min 39, spread 10%) | kcat -P: 20 MB/s (min 19, spread 15%) | 2.05× | ≥ 1× (issue 3) | met | 3.00 → 3.50 (busy) |",
			"**Busy machine:** 1 of 1 figures"}},
		{"doc", []string{"-in", rows, "-doc", doc}, "", []string{"wrote the table into"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tc.args, &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("run(%q) = %v, want an error containing %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	b, _ := os.ReadFile(doc)
	if s := string(b); strings.Contains(s, "old") || !strings.Contains(s, "| restore vs kcat -P |") || !strings.HasPrefix(s, "# P\n") {
		t.Errorf("-doc did not replace the generated section:\n%s", s)
	}
}
