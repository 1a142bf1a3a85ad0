package store

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTopicLayout(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	if err := s.WriteManifest(ctx, testLease(t, s, "versioned"), &Manifest{Topic: "versioned", Active: 1, Snapshots: []Snapshot{{Version: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteIndex(ctx, testLease(t, s, "flat"), Loc{Topic: "flat"}, testEntries(3)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		topic string
		want  Layout
	}{
		{"versioned", LayoutSnapshots},
		{"flat", LayoutFlat},
		{"absent", LayoutNone},
	}
	for _, tt := range tests {
		got, err := s.TopicLayout(ctx, tt.topic)
		if err != nil || got != tt.want {
			t.Errorf("TopicLayout(%s) = %v, %v; want %v", tt.topic, got, err, tt.want)
		}
	}
	if ok, _ := s.registerExists(ctx, "flat/index.d/heads/"); !ok {
		t.Error("flat index head is not in <topic>/index.d/heads/")
	}
}

func TestManifestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	archived := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	m := &Manifest{Topic: "orders", Active: 2, Snapshots: []Snapshot{
		{Version: 1, TopicID: "AAAAAAAAAAAAAAAAAAAAAA", Created: baseTime, Archived: &archived, Reason: "topic recreated", Partitions: 3},
		{Version: 2, TopicID: "BBBBBBBBBBBBBBBBBBBBBB", Created: archived, Partitions: 6, Configs: map[string]string{"cleanup.policy": "compact"}},
	}}
	if err := s.WriteManifest(ctx, testLease(t, s, "orders"), m); err != nil {
		t.Fatal(err)
	}
	if m.Format != FormatVersion || m.Seq != 1 || m.Writer == "" {
		t.Errorf("WriteManifest set format %d, seq %d, writer %q", m.Format, m.Seq, m.Writer)
	}
	got, err := s.ReadManifest(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	for i := range got.Snapshots {
		got.Snapshots[i].Created = got.Snapshots[i].Created.UTC()
		if a := got.Snapshots[i].Archived; a != nil {
			u := a.UTC()
			got.Snapshots[i].Archived = &u
		}
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("manifest\n got %+v\nwant %+v", got, m)
	}
	if a := got.ActiveSnapshot(); a == nil || a.Version != 2 {
		t.Errorf("ActiveSnapshot %+v", a)
	}
	if v := got.Versions(); v != "v1, v2" {
		t.Errorf("Versions %q", v)
	}
	raw, err := s.RawManifest(ctx, "orders")
	if err != nil || !strings.Contains(string(raw), "topic_id: BBBBBBBBBBBBBBBBBBBBBB") {
		t.Errorf("RawManifest: %v\n%s", err, raw)
	}
}

func TestResolveSnapshot(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	if err := s.WriteManifest(ctx, testLease(t, s, "orders"), &Manifest{Topic: "orders", Active: 3, Snapshots: []Snapshot{{Version: 1}, {Version: 2}, {Version: 3}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteIndex(ctx, testLease(t, s, "flat"), Loc{Topic: "flat"}, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		topic, sel string
		want       int
		wantErr    string // substring; "" for success
		wantIs     error
	}{
		{"orders", "", 3, "", nil},
		{"orders", "latest", 3, "", nil},
		{"orders", "2", 2, "", nil},
		{"orders", "v2", 2, "", nil},
		{"orders", "v1", 1, "", nil},
		{"orders", "v9", 0, "topic orders has no snapshot v9; available: v1, v2, v3", ErrNotFound},
		{"orders", "0", 0, "no snapshot v0; available: v1, v2, v3", ErrNotFound},
		{"orders", "garbage", 0, `snapshot "garbage" is not a version`, nil},
		{"orders", "v", 0, "is not a version", nil},
		{"orders", "-1", 0, "is not a version", nil},
		{"orders", "vv2", 0, "is not a version", nil},
		{"orders", "LATEST", 0, "is not a version", nil},
		{"flat", "", 0, "", nil},
		{"flat", "v0", 0, "", nil},
		{"flat", "1", 0, "available: v0", ErrNotFound},
		{"absent", "", 0, `topic "absent" has no backup in storage`, ErrNotFound},
	}
	for _, tt := range tests {
		v, m, err := s.ResolveSnapshot(ctx, tt.topic, tt.sel)
		if tt.wantErr == "" {
			if err != nil || v != tt.want || m == nil {
				t.Errorf("ResolveSnapshot(%s, %q) = %d, %v; want %d", tt.topic, tt.sel, v, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ResolveSnapshot(%s, %q) error %v; want it to contain %q", tt.topic, tt.sel, err, tt.wantErr)
		}
		if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
			t.Errorf("ResolveSnapshot(%s, %q) error %v does not wrap %v", tt.topic, tt.sel, err, tt.wantIs)
		}
	}
}

func TestReadManifestErrors(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	tests := []struct {
		body string
		want error
	}{
		{"format: 3\ntopic: t\n", ErrFormat},
		{"snapshots: {not a list\n", ErrCorrupt},
		{"format: 2\nmoved_to: t/manifest.d/\n", ErrCorrupt},
		{"format: 1\ntopic: t\nsnapshots:\n  - {version: 1, partitions: -3}\n", ErrCorrupt},
		{"format: 1\ntopic: other\n", ErrCorrupt},
		{"format: 1\ntopic: t\nsnapshots:\n  - {version: 1}\n  - {version: 1}\n", ErrCorrupt},
	}
	for _, tt := range tests {
		if err := s.write(ctx, manifestKey("t"), []byte(tt.body)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadManifest(ctx, "t"); !errors.Is(err, tt.want) {
			t.Errorf("%q: error %v, want %v", tt.body, err, tt.want)
		}
	}
}

func TestLayoutKeys(t *testing.T) {
	v := Loc{Topic: "orders", Version: 4}
	f := Loc{Topic: "orders"}
	tests := []struct{ got, want string }{
		{manifestKey("orders"), "orders/manifest"},
		{leaseKey("orders"), "orders/__lease"},
		{timeKey("orders"), "orders/__time"},
		{v.IndexKey(), "orders/snapshots/v4/orders/index"},
		{v.partKey("", 12), "orders/snapshots/v4/orders/index.d/00000012"},
		{v.partKey("0a1b", 12), "orders/snapshots/v4/orders/index.d/0a1b/00000012"},
		{v.headsKey(), "orders/snapshots/v4/orders/index.d/heads/"},
		{registerKey(v.headsKey(), 7), "orders/snapshots/v4/orders/index.d/heads/0000000000000007"},
		{manifestsKey("orders"), "orders/manifest.d/"},
		{leasesKey("orders"), "orders/__lease.d/"},
		{requestObjKey("orders", "ab12"), "orders/__snapshot_request.d/ab12"},
		{v.SegmentKey("01HX"), "orders/snapshots/v4/orders/01HX.kan"},
		{f.IndexKey(), "orders/index"},
		{f.partKey("", 1), "orders/index.d/00000001"},
		{f.SegmentKey("01HX"), "orders/01HX.kan"},
		{v.String(), "orders/v4"},
		{f.String(), "orders (flat layout)"},
		{segmentID("orders/", "orders/01HX.kan"), "01HX"},
		{segmentID("orders/", "orders/index"), ""},
		{segmentID("orders/", "orders/snapshots/v1/orders/01HX.kan"), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for _, name := range []string{"", ".", "..", "a/b", "a b", strings.Repeat("x", 250)} {
		if ValidTopic(name) == nil {
			t.Errorf("ValidTopic(%q) accepted", name)
		}
	}
	for _, name := range []string{"orders", "a.b_c-D9", strings.Repeat("x", 249)} {
		if err := ValidTopic(name); err != nil {
			t.Errorf("ValidTopic(%q): %v", name, err)
		}
	}
}

func TestManifestCut(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 500, time.UTC)
	tests := []struct {
		name    string
		m       Manifest
		want    int
		wantErr error
	}{
		{"next after active", Manifest{Topic: "t", Active: 2, Snapshots: []Snapshot{{Version: 1}, {Version: 2, TopicID: "id"}}}, 3, nil},
		{"flat", Manifest{Topic: "t", Active: 0, Snapshots: []Snapshot{{Version: 0}}}, 0, ErrFlatLayout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			v, err := m.Cut(now, "snapshot create", map[int32]int64{0: 42})
			if !errors.Is(err, tc.wantErr) || v != tc.want {
				t.Fatalf("cut = %d, %v", v, err)
			}
			if err != nil {
				return
			}
			s, _ := m.Get(v)
			if m.Active != v || s.TopicID != "id" || s.StartOffsets[0] != 42 || m.Snapshots[1].Archived == nil || !s.Created.Equal(now.Truncate(time.Second)) {
				t.Fatalf("manifest = %+v", m)
			}
		})
	}
}
