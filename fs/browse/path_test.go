package browse

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/store"
)

func TestParse(t *testing.T) {
	loc := store.Loc{Topic: "orders", Version: 2}
	tests := []struct {
		in   string
		want Path
	}{
		{"", Path{}},
		{"/", Path{}},
		{"topics", Path{Kind: KindTopics}},
		{"/topics/", Path{Kind: KindTopics}},
		{"topics/orders", TopicPath("orders")},
		{"topics/orders/manifest", Path{Kind: KindManifest, Topic: "orders"}},
		{"topics/orders/latest", Path{Kind: KindLatest, Topic: "orders"}},
		{"topics/orders/latest/1/records.jsonl", Path{Kind: KindRecords, Topic: "orders", Latest: true, Partition: 1}},
		{"topics/orders/latest/index", Path{Kind: KindIndex, Topic: "orders", Latest: true}},
		{"topics/orders/snapshots", Path{Kind: KindSnapshots, Topic: "orders"}},
		{"topics/orders/snapshots/v2", SnapshotPath(loc)},
		{"topics/orders/snapshots/v0/snapshot.yaml", Path{Kind: KindSnapshotYAML, Topic: "orders"}},
		{"topics/orders/snapshots/v2/index", Path{Kind: KindIndex, Topic: "orders", Version: 2}},
		{"topics/orders/snapshots/v2/7", PartitionPath(loc, 7)},
		{"topics/orders/snapshots/v2/7/records.jsonl", Path{Kind: KindRecords, Topic: "orders", Version: 2, Partition: 7}},
		{"topics/orders/snapshots/v2/7/segments", Path{Kind: KindSegments, Topic: "orders", Version: 2, Partition: 7}},
		{"topics/orders/snapshots/v2/7/segments/00000000000000000010-00000000000000000019.jsonl",
			Path{Kind: KindSegment, Topic: "orders", Version: 2, Partition: 7, First: 10, Last: 19}},
		{"topics/a.b_c-d/snapshots/v2147483647/2147483647", Path{Kind: KindPartition, Topic: "a.b_c-d", Version: 1<<31 - 1, Partition: 1<<31 - 1}},
		{"restore", Path{Kind: KindRestores}},
		{"restore/x", RestorePath("x")},
		{"restore/README", RestorePath("README")},
		{"restore/my copy/status", Path{Kind: KindRestoreStatus, Name: "my copy"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != strings.Trim(tt.in, "/") {
				t.Errorf("String() = %q, want %q", s, strings.Trim(tt.in, "/"))
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for _, in := range []string{
		"..", "topics/..", "topics/../restore", "topics/./orders", "topics//orders", "%2e%2e", "topics/orders/%2e%2e",
		"etc/passwd", "topics/orders/other", "topics/orders/manifest/x", "topics/orders/snapshots/2", "topics/orders/snapshots/v02",
		"topics/orders/snapshots/v-1", "topics/orders/snapshots/v+1", "topics/orders/snapshots/v2147483648",
		"topics/orders/snapshots/v1/01", "topics/orders/snapshots/v1/-1", "topics/orders/snapshots/v1/2147483648",
		"topics/orders/snapshots/v1/0/records.jsonl/x", "topics/orders/snapshots/v1/0/other",
		"topics/orders/snapshots/v1/0/segments/1-2.jsonl", "topics/orders/snapshots/v1/0/segments/00000000000000000010-0000000000000000001x.jsonl",
		"topics/orders/snapshots/v1/0/segments/00000000000000000010--0000000000000000001.jsonl",
		"topics/orders/snapshots/v1/0/segments/99999999999999999999-99999999999999999999.jsonl",
		"topics/" + strings.Repeat("t", 256), "restore/" + strings.Repeat("n", 250), "restore/a\nb", "restore/x/y",
		"topics/a\x00b", "restore/x/status/y",
	} {
		if p, err := Parse(in); !errors.Is(err, ErrBadPath) {
			t.Errorf("Parse(%.80q) = %+v, %v; want ErrBadPath", in, p, err)
		}
	}
}

func TestParent(t *testing.T) {
	for _, in := range []string{
		"topics/orders/snapshots/v2/7/segments/00000000000000000010-00000000000000000019.jsonl",
		"topics/orders/latest/7/records.jsonl", "restore/x/status",
	} {
		p, _ := Parse(in)
		var chain []string
		for p.Kind != KindRoot {
			chain = append(chain, p.String())
			p = p.Parent()
		}
		for i := 1; i < len(chain); i++ {
			if want := chain[i-1][:strings.LastIndexByte(chain[i-1], '/')]; chain[i] != want {
				t.Errorf("parent of %s is %s, want %s", chain[i-1], chain[i], want)
			}
		}
	}
	p, _ := Parse("topics/orders/latest/7")
	if got := p.Parent(); got.Kind != KindLatest || got.String() != "topics/orders/latest" {
		t.Errorf("parent of latest/7 = %+v", got)
	}
}

// FuzzPath checks the grammar: Parse never panics, what it accepts formats
// back to the canonical form and parses again to the same Path, and no
// accepted path has an element that leaves the tree.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"", "topics/t/snapshots/v1/0/records.jsonl", "topics/t/latest/0/segments/00000000000000000000-00000000000000000009.jsonl",
		"restore/x/status", "topics/../x", "topics/t/snapshots/v01", "topics/t/latest/groups/a%2Fb.jsonl"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrBadPath) {
				t.Fatalf("Parse(%q): %v does not match ErrBadPath", s, err)
			}
			return
		}
		out := p.String()
		if out != strings.TrimSuffix(strings.TrimPrefix(s, "/"), "/") {
			t.Fatalf("Parse(%q).String() = %q", s, out)
		}
		back, err := Parse(out)
		if err != nil || back != p {
			t.Fatalf("Parse(%q) = %+v, %v; want %+v", out, back, err, p)
		}
		for _, e := range strings.Split(out, "/") {
			if e == ".." || e == "." || (out != "" && e == "") || len(e) > maxElem {
				t.Fatalf("Parse(%q) accepted element %q", s, e)
			}
		}
		if p.Kind != KindRoot && p.Parent().String() != out[:max(0, strings.LastIndexByte(out, '/'))] {
			t.Fatalf("Parent of %q is %q", out, p.Parent())
		}
	})
}

func TestSegmentName(t *testing.T) {
	for _, tc := range []struct {
		first, last int64
	}{{0, 0}, {1, 99}, {12345678901234567, 12345678901234599}, {0, 9223372036854775807}, {-1, 5}} {
		want := fmt.Sprintf("%020d-%020d.jsonl", tc.first, tc.last)
		if got := SegmentName(tc.first, tc.last); got != want {
			t.Errorf("SegmentName(%d, %d) = %q, want %q", tc.first, tc.last, got, want)
		}
		p := Path{Kind: KindSegment, Topic: "t", Version: 1, Partition: 3, First: tc.first, Last: tc.last}
		if s := p.String(); p.Base() != s[strings.LastIndexByte(s, '/')+1:] {
			t.Errorf("Base %q of %q", p.Base(), s)
		}
	}
	p := Path{Kind: KindPartition, Topic: "t", Latest: true, Partition: 12}
	if p.Base() != "12" {
		t.Errorf("partition Base %q", p.Base())
	}
}
