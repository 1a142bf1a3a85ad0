package browse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/kbackup/kbackup/fs/browse/browsetest"
	"github.com/kbackup/kbackup/store"
)

var baseTime = browsetest.BaseTime

// fixture is browsetest's backup keyed by partition path.
type fixture struct {
	st    *store.Store
	lines map[Path][]byte               // records.jsonl content by partition path
	segs  map[Path][]store.SegmentEntry // segments by partition path
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	b := browsetest.New(tb)
	f := &fixture{st: b.St, lines: map[Path][]byte{}, segs: map[Path][]store.SegmentEntry{}}
	for loc, ps := range b.Lines {
		for p, lines := range ps {
			f.lines[PartitionPath(loc, p)], f.segs[PartitionPath(loc, p)] = lines, b.Segs[loc][p]
		}
	}
	return f
}

func mustParse(tb testing.TB, s string) Path {
	tb.Helper()
	p, err := Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func names(es []Entry) string {
	var b []string
	for _, e := range es {
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		b = append(b, n)
	}
	return strings.Join(b, " ")
}

func TestList(t *testing.T) {
	f := newFixture(t)
	tr := New(context.Background(), f.st, Options{})
	tests := []struct{ path, want string }{
		{"", "restore/ topics/"},
		{"topics", "orders/"},
		{"topics/orders", "latest manifest snapshots/"},
		{"topics/orders/snapshots", "v1/ v2/"},
		{"topics/orders/snapshots/v2", "index snapshot.yaml 0/ 1/"},
		{"topics/orders/latest", "index snapshot.yaml 0/ 1/"},
		{"topics/orders/snapshots/v1/0", "records.jsonl segments/"},
		{"topics/orders/snapshots/v2/1/segments", "00000000000000000000-00000000000000000019.jsonl 00000000000000000020-00000000000000000034.jsonl"},
		{"restore", "README"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			es, err := tr.List(context.Background(), mustParse(t, tt.path))
			if err != nil {
				t.Fatal(err)
			}
			if got := names(es); got != tt.want {
				t.Errorf("List(%q) = %q, want %q", tt.path, got, tt.want)
			}
			dirs := strings.Count(tt.want, "/")
			if n, err := tr.Subdirs(context.Background(), mustParse(t, tt.path)); err != nil || n != dirs {
				t.Errorf("Subdirs(%q) = %d, %v; want %d (the link count is 2 + subdirectories)", tt.path, n, err, dirs)
			}
			for _, e := range es {
				if e.Path.Parent().String() != strings.TrimSuffix(tt.path, "/") && tt.path != "topics/orders/latest" {
					t.Errorf("entry %s is not in %s", e.Path, tt.path)
				}
			}
		})
	}
	// Children of latest/ are named through latest.
	es, _ := tr.List(context.Background(), mustParse(t, "topics/orders/latest"))
	if got := es[2].Path.String(); got != "topics/orders/latest/0" {
		t.Errorf("latest/ lists %s", got)
	}
}

// TestEntries checks sizes, times and stored bytes against what was
// written, and that reads at any offset return the records' JSON lines.
func TestEntries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tr := New(ctx, f.st, Options{})
	for pp, lines := range f.segs {
		want := f.lines[pp]
		var stored, recs int64
		for _, e := range lines {
			stored += e.StoredBytes
			recs += e.Records
		}
		rp := pp
		rp.Kind = KindRecords
		e, err := tr.Stat(ctx, rp)
		if err != nil {
			t.Fatal(err)
		}
		last := lines[len(lines)-1].LastTimestamp
		if e.Type != TypeFile || e.Size != int64(len(want)) || e.Stored != stored || e.Records != recs || !e.ModTime.Equal(last) {
			t.Errorf("%s: %+v; want size %d stored %d records %d time %v", rp, e, len(want), stored, recs, last)
		}
		got, err := tr.ReadAll(ctx, rp)
		if err != nil || string(got) != string(want) {
			t.Fatalf("%s: read %d bytes (%v), want %d", rp, len(got), err, len(want))
		}
		file, err := tr.Open(ctx, rp)
		if err != nil {
			t.Fatal(err)
		}
		for _, off := range []int64{0, 1, int64(len(want)) / 2, int64(len(want)) - 7} {
			b := make([]byte, 50)
			n, err := file.ReadAt(b, off)
			if err != nil && err != io.EOF || string(b[:n]) != string(want[off:min(int64(len(want)), off+50)]) {
				t.Errorf("%s: ReadAt(%d) = %q, %v", rp, off, b[:n], err)
			}
		}
		if n, err := file.ReadAt(make([]byte, 1), int64(len(want))); n != 0 || err != io.EOF {
			t.Errorf("ReadAt at the end: %d, %v", n, err)
		}
		// Segment files: exact size and the slice of records.jsonl.
		at := int64(0)
		sdir := pp
		sdir.Kind = KindSegments
		es, err := tr.List(ctx, sdir)
		if err != nil || len(es) != len(lines) {
			t.Fatalf("%s: %d entries, %v", sdir, len(es), err)
		}
		for i, se := range lines {
			e := es[i]
			if e.Size != se.DecodedBytes || e.Stored != se.StoredBytes || !e.Immutable || !e.ModTime.Equal(se.LastTimestamp) {
				t.Errorf("%s: %+v", e.Path, e)
			}
			b, err := tr.ReadAll(ctx, e.Path)
			if err != nil || string(b) != string(want[at:at+se.DecodedBytes]) {
				t.Errorf("%s: %q %v", e.Path, b, err)
			}
			at += se.DecodedBytes
		}
	}
	if tr.Stats().Blocks.Load() == 0 || tr.Stats().Segments.Load() == 0 {
		t.Errorf("no block decoded: %+v", tr.Stats())
	}
}

func TestStatMissing(t *testing.T) {
	f := newFixture(t)
	tr := New(context.Background(), f.st, Options{})
	for _, s := range []string{
		"topics/nope", "topics/nope/manifest", "topics/orders/snapshots/v3", "topics/orders/snapshots/v1/1",
		"topics/orders/snapshots/v2/2/records.jsonl", "topics/orders/snapshots/v2/0/segments/00000000000000000000-00000000000000000018.jsonl",
		"restore/x", "restore/x/status",
	} {
		if e, err := tr.Stat(context.Background(), mustParse(t, s)); !store.IsNotFound(err) {
			t.Errorf("Stat(%s) = %+v, %v; want not found", s, e, err)
		}
	}
	if _, err := tr.Open(context.Background(), mustParse(t, "topics/orders")); !errors.Is(err, ErrNotFile) {
		t.Errorf("Open of a directory: %v", err)
	}
	if _, err := tr.List(context.Background(), mustParse(t, "topics/orders/manifest")); !errors.Is(err, ErrNotDir) {
		t.Errorf("List of a file: %v", err)
	}
}

func TestLatestAndSummary(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tr := New(ctx, f.st, Options{})
	e, err := tr.Stat(ctx, mustParse(t, "topics/orders/latest"))
	if err != nil || e.Type != TypeLink || e.Link != "snapshots/v2" {
		t.Fatalf("latest: %+v %v", e, err)
	}
	r, err := tr.Resolve(ctx, mustParse(t, "topics/orders/latest/1/records.jsonl"))
	if err != nil || r.String() != "topics/orders/snapshots/v2/1/records.jsonl" {
		t.Fatalf("Resolve: %s %v", r, err)
	}
	a, _ := tr.ReadAll(ctx, mustParse(t, "topics/orders/latest/1/records.jsonl"))
	if string(a) != string(f.lines[PartitionPath(store.Loc{Topic: "orders", Version: 2}, 1)]) {
		t.Errorf("latest/1/records.jsonl differs from v2's")
	}
	s, err := tr.Summary(ctx, store.Loc{Topic: "orders", Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Active || s.Records != 95 || s.Segments != 5 || len(s.Partitions) != 2 || s.Partitions[1].LastOffset != 34 || s.TimeRange == nil {
		t.Errorf("summary of v2: %+v", s)
	}
	var back SnapshotSummary
	b, _ := tr.ReadAll(ctx, mustParse(t, "topics/orders/snapshots/v2/snapshot.yaml"))
	if err := yaml.Unmarshal(b, &back); err != nil || back.Records != s.Records || back.StoredBytes != s.StoredBytes {
		t.Errorf("snapshot.yaml %+v %v, summary %+v", back, err, s)
	}
	ve, _ := tr.Stat(ctx, mustParse(t, "topics/orders/snapshots/v1"))
	if !ve.ModTime.Equal(baseTime) {
		t.Errorf("v1's time %v, want its creation %v", ve.ModTime, baseTime)
	}
}

func TestCopyRequest(t *testing.T) {
	loc := store.Loc{Topic: "orders", Version: 2}
	tests := []struct {
		name, src string
		keep      bool
		want      RestoreRequest
	}{
		{"v2", "topics/orders/snapshots/v2", true, RestoreRequest{Name: "v2", Source: loc, Target: "orders"}},
		{"v2", "topics/orders/snapshots/v2", false, RestoreRequest{Name: "v2", Source: loc, Target: "v2"}},
		{"copy", "topics/orders/snapshots/v2", true, RestoreRequest{Name: "copy", Source: loc, Target: "copy"}},
		{"p1", "topics/orders/snapshots/v2/1", true, RestoreRequest{Name: "p1", Source: loc, Partitions: []int32{1}, Target: "p1"}},
		{"1", "topics/orders/snapshots/v2/1", true, RestoreRequest{Name: "1", Source: loc, Partitions: []int32{1}, Target: "orders"}},
		// cp -r …/orders/latest/ restore/: latest/ resolved to v2, copied as
		// "latest", restores into orders, never into a topic named latest.
		{"latest", "topics/orders/snapshots/v2", true, RestoreRequest{Name: "latest", Source: loc, Target: "orders"}},
		{"latest", "topics/orders/snapshots/v2/1", true, RestoreRequest{Name: "latest", Source: loc, Partitions: []int32{1}, Target: "orders"}},
		{"latest", "topics/orders/snapshots/v2", false, RestoreRequest{Name: "latest", Source: loc, Target: "orders"}},
	}
	for _, tt := range tests {
		got := CopyRequest(tt.name, mustParse(t, tt.src), tt.keep)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("CopyRequest(%s, %s, %v) = %+v, want %+v", tt.name, tt.src, tt.keep, got, tt.want)
		}
	}
	for _, src := range []string{"topics/orders", "topics", "topics/orders/snapshots", "topics/orders/snapshots/v2/1/segments", "topics/orders/latest/1"} {
		if got := CopyRequest("x", mustParse(t, src), true); got.Invalid == "" || got.Target != "" {
			t.Errorf("copy of %s: %+v, want invalid", src, got)
		}
	}
}

// TestCopiedFrom: the directory a copy was made from is the source file's
// directory minus the file's directory inside the copy.
func TestCopiedFrom(t *testing.T) {
	for _, tc := range []struct {
		srcDir, relDir string
		want           string // "" when false
	}{
		{"topics/a/snapshots/v2/0", "", "topics/a/snapshots/v2/0"},
		{"topics/a/snapshots/v2/0", ".", "topics/a/snapshots/v2/0"},
		{"topics/a/snapshots/v2/0", "0", "topics/a/snapshots/v2"},
		{"topics/a/snapshots/v2/0/segments", "0/segments", "topics/a/snapshots/v2"},
		{"topics/a/snapshots/v2/0", "1", ""},              // renamed on the way
		{"topics/a/snapshots/v2/0", "v2/0/x/y/z/w/v", ""}, // longer than the source
		{"elsewhere/x", "x", ""},                          // not a directory of the tree
	} {
		p, ok := CopiedFrom(tc.srcDir, tc.relDir)
		if got := map[bool]string{true: p.String()}[ok]; got != tc.want {
			t.Errorf("CopiedFrom(%q, %q) = %q, %v; want %q", tc.srcDir, tc.relDir, p, ok, tc.want)
		}
	}
}

// TestConcurrentReads reads one open records.jsonl from 8 goroutines at
// random offsets, as the kernel's concurrent read-ahead requests do: each
// read gives the file's bytes, whichever block another read is decoding
// or has evicted meanwhile.
func TestConcurrentReads(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tr := New(ctx, f.st, Options{})
	for pp, want := range f.lines {
		rp := pp
		rp.Kind = KindRecords
		file, err := tr.Open(ctx, rp)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(g), 7))
				for range 300 {
					off := rnd.Int64N(int64(len(want)))
					b := make([]byte, 1+rnd.IntN(700))
					n, err := file.ReadAt(b, off)
					if err != nil && err != io.EOF || string(b[:n]) != string(want[off:min(int64(len(want)), off+int64(len(b)))]) {
						errs <- fmt.Errorf("%s: ReadAt(%d, %d bytes) = %d bytes, %v: wrong bytes or error", rp, off, len(b), n, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}
