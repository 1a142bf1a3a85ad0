package browse

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/fs/browse/browsetest"
	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

func TestGroupFiles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := browsetest.BaseTime.Add(time.Hour)
	storetest.PutGroupCapture(t, f.st, browsetest.V2, store.GroupCapture{Time: t0, Offsets: []store.GroupOffset{{Group: "billing", Partition: 0, Offset: 1, LogEnd: 20}}})
	t1 := t0.Add(time.Minute)
	storetest.PutGroupCapture(t, f.st, browsetest.V2, store.GroupCapture{Time: t1, Offsets: []store.GroupOffset{
		{Group: "billing", Partition: 1, Offset: 30, LeaderEpoch: 2, Metadata: "m", LogStart: 0, LogEnd: 35},
		{Group: "billing", Partition: 0, Offset: 12, LeaderEpoch: -1, LogStart: 0, LogEnd: 20},
		{Group: "a/b c", Partition: 0, Offset: 5, LeaderEpoch: -1, LogStart: -1, LogEnd: -1},
		{Group: strings.Repeat("x", 300), Partition: 0, Offset: 5}, // too long a name for a file
	}})
	tr := New(ctx, f.st, Options{})
	for _, tt := range []struct{ path, want string }{
		{"topics/orders/snapshots/v2", "index snapshot.yaml 0/ 1/ groups/"},
		{"topics/orders/latest", "index snapshot.yaml 0/ 1/ groups/"},
		{"topics/orders/snapshots/v1", "index snapshot.yaml 0/"}, // no captures: no groups/
		{"topics/orders/snapshots/v2/groups", "a%2Fb%20c.jsonl billing.jsonl"},
		{"topics/orders/latest/groups", "a%2Fb%20c.jsonl billing.jsonl"},
	} {
		es, err := tr.List(ctx, mustParse(t, tt.path))
		if err != nil {
			t.Fatal(err)
		}
		if got := names(es); got != tt.want {
			t.Errorf("List(%q) = %q, want %q", tt.path, got, tt.want)
		}
		if n, err := tr.Subdirs(ctx, mustParse(t, tt.path)); err != nil || n != strings.Count(tt.want, "/") {
			t.Errorf("Subdirs(%q) = %d, %v; want %d", tt.path, n, err, strings.Count(tt.want, "/"))
		}
		// Every entry's size is exactly what a read returns.
		for _, e := range es {
			if e.IsDir() {
				continue
			}
			b, err := tr.ReadAll(ctx, e.Path)
			if err != nil || int64(len(b)) != e.Size {
				t.Errorf("%s: listed size %d, read %d bytes (%v)", e.Path, e.Size, len(b), err)
			}
		}
	}
	p := mustParse(t, "topics/orders/snapshots/v2/groups/billing.jsonl")
	e, err := tr.Stat(ctx, p)
	if err != nil || !e.ModTime.Equal(t1) {
		t.Fatalf("stat billing.jsonl: %+v, %v; want the newest capture's time %s", e, err, t1)
	}
	b, err := tr.ReadAll(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	var got []GroupLine
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var gl GroupLine
		if err := json.Unmarshal([]byte(l), &gl); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, gl)
	}
	if len(got) != 2 || got[0].Partition != 0 || got[0].Offset != 12 || got[0].Lag == nil || *got[0].Lag != 8 ||
		got[1].Partition != 1 || got[1].Offset != 30 || got[1].LeaderEpoch != 2 || got[1].Metadata != "m" || *got[1].Lag != 5 ||
		got[0].Topic != "orders" || !got[0].CaptureTime.Equal(t1) {
		t.Fatalf("billing.jsonl = %s", b)
	}
	b, err = tr.ReadAll(ctx, mustParse(t, "topics/orders/latest/groups/a%2Fb%20c.jsonl"))
	if err != nil || !strings.Contains(string(b), `"group":"a/b c"`) || strings.Contains(string(b), `"lag"`) {
		t.Fatalf("a/b c: %s, %v; want its line without a lag (log end unknown)", b, err)
	}
	if _, err := tr.Stat(ctx, mustParse(t, "topics/orders/snapshots/v1/groups")); !store.IsNotFound(err) {
		t.Fatalf("v1/groups: %v, want not found", err)
	}
	if _, err := tr.Stat(ctx, mustParse(t, "topics/orders/snapshots/v2/groups/nobody.jsonl")); !store.IsNotFound(err) {
		t.Fatalf("groups/nobody.jsonl: %v, want not found", err)
	}
}

func TestGroupFileNames(t *testing.T) {
	for _, g := range []string{"billing", "a/b", "..", ".", "%", "x\x00y", "日本", "a.b_c-D9", " "} {
		name := GroupFileName(g)
		back, ok := parseGroupFileName(name)
		if !ok || back != g {
			t.Errorf("%q: file %q parses back to %q, %v", g, name, back, ok)
		}
		if !validElem(name) {
			t.Errorf("%q: file %q is no path element", g, name)
		}
		p := Path{Kind: KindGroup, Topic: "t", Version: 1, Group: g}
		if q, err := Parse(p.String()); err != nil || q != p {
			t.Errorf("%q: Parse(%q) = %+v, %v", g, p.String(), q, err)
		}
	}
	for _, name := range []string{".jsonl", "a%2f.jsonl", "a%2.jsonl", "a b.jsonl", "a%41.jsonl", "a", "a%zz.jsonl"} {
		if g, ok := parseGroupFileName(name); ok {
			t.Errorf("%q parsed as group %q", name, g)
		}
	}
}
