package benchtab

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestValidate(t *testing.T) {
	ok := Row{Figure: Figure{ID: "a", Name: "a", Unit: "s", Kbackup: Side{Name: "k", Samples: []float64{1}}}}
	for _, tc := range []struct {
		name string
		edit func(r *Row)
		ok   bool
	}{
		{"valid", func(*Row) {}, true},
		{"no id", func(r *Row) { r.ID = "" }, false},
		{"no unit", func(r *Row) { r.Unit = "" }, false},
		{"no samples", func(r *Row) { r.Kbackup.Samples = nil }, false},
		{"NaN sample", func(r *Row) { r.Kbackup.Samples = []float64{1, math.NaN()} }, false},
		{"peer without samples", func(r *Row) { r.Peer = &Side{Name: "p"} }, false},
		{"unknown goal operator", func(r *Row) { r.Goal = Goal{Op: ">", Value: 1} }, false},
		{"peer and goal", func(r *Row) { r.Peer = &Side{Name: "p", Samples: []float64{2}}; r.Goal = AtLeast(1, "") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			err := r.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadFigure) {
				t.Errorf("error %v is not ErrBadFigure", err)
			}
		})
	}
}

// sampleRows is a run of three figures: a peer met on a busy machine, a
// limit not met and a figure reported only.
func sampleRows() []Row {
	host := Host{Cores: 2, CPU: "Test CPU", Go: "go1.26.0", Kernel: "6.1.0"}
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	return []Row{
		{Bench: "BenchmarkBackupVsKcat", Rounds: 5, Load: Load{Before: 1.5, After: 2.6, Cores: 2}, Host: host, Time: at,
			Figure: Figure{ID: "backup-zstd-vs-kcat", Name: "backup --once, zstd", Unit: "MB/s",
				Kbackup: Side{Name: "kbackup zstd", Settings: "defaults", Samples: []float64{120, 118, 125, 119, 121}},
				Peer:    &Side{Name: "kcat -C", Settings: "default fetch sizes | values only", Samples: []float64{100, 104, 98, 101, 99}},
				Goal:    AtLeast(0.6, "issue 2")}},
		{Bench: "BenchmarkLsLargePartition", Rounds: 5, Load: Load{Before: 0.4, After: 1.2, Cores: 2}, Host: host, Time: at,
			Figure: Figure{ID: "ls-l-warm", Name: "ls -l of 100,000 segments, warm", Unit: "s",
				Kbackup: Side{Name: "mount", Samples: []float64{8.1, 7.9, 8.4, 8.0, 8.2}},
				Goal:    AtMost(1, "issue 13"), Note: "two getxattr per file"}},
		{Bench: "BenchmarkSegmentWriter", Rounds: 5, Load: Load{Before: 0.3, After: 0.9, Cores: 2}, Host: host, Time: at,
			Figure: Figure{ID: "encode-zstd", Name: "segment encoding, zstd", Unit: "MB/s",
				Kbackup: Side{Name: "SegmentWriter", Samples: []float64{80, 82, 79, 81, 80}}}},
	}
}

func TestDocSectionGolden(t *testing.T) {
	var buf bytes.Buffer
	rows := sampleRows()
	WriteDocSection(&buf, rows, "2026-02-03")
	buf.WriteString("\n----- details -----\n")
	WriteDetails(&buf, rows)
	golden := filepath.Join("testdata", "section.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("section differs from %s (go test -run DocSection -update):\n%s", golden, got)
	}
}

func TestAppendReadRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rows.jsonl")
	rows := sampleRows()
	for _, r := range rows {
		if err := AppendRow(path, r); err != nil {
			t.Fatal(err)
		}
	}
	again := rows[0]
	again.Kbackup.Samples = []float64{1, 2, 3, 4, 5}
	if err := AppendRow(path, again); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRows(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != rows[0].ID || got[1].ID != rows[1].ID || got[2].ID != rows[2].ID {
		t.Fatalf("read %d rows, want the 3 written, in order", len(got))
	}
	if got[0].Kbackup.Samples[0] != 1 || got[0].Peer == nil || got[0].Peer.Settings != rows[0].Peer.Settings {
		t.Errorf("a rerun figure did not replace the first in place: %+v", got[0])
	}
	if !got[1].Time.Equal(rows[1].Time) || got[1].Load != rows[1].Load || got[1].Goal != rows[1].Goal {
		t.Errorf("row did not round-trip: %+v", got[1])
	}

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"id":"x","name":"x","unit":"s","kbackup":{"name":"k","samples":[]}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRows(bad); !errors.Is(err, ErrBadFigure) || !strings.Contains(err.Error(), "bad.jsonl:1") {
		t.Errorf("ReadRows of a figure without samples: %v, want ErrBadFigure naming the line", err)
	}
}

func TestUpdateDoc(t *testing.T) {
	path := filepath.Join(t.TempDir(), "performance.md")
	doc := "# Performance\n\nintro\n\n" + DocBegin + "\nold table\n" + DocEnd + "\n\n## Reproduce\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpdateDoc(path, "new table\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# Performance\n\nintro\n\n" + DocBegin + "\nnew table\n\n" + DocEnd + "\n\n## Reproduce\n"
	if string(got) != want {
		t.Errorf("UpdateDoc wrote\n%s\nwant\n%s", got, want)
	}
	if err := os.WriteFile(path, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpdateDoc(path, "x"); err == nil {
		t.Error("UpdateDoc of a file without markers succeeded")
	}
}
