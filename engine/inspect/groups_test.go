package inspect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

func TestDescribeAndListShowGroups(t *testing.T) {
	ctx := context.Background()
	st, _ := knownStore(t)
	t0 := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	storetest.PutGroupCapture(t, st, v1, store.GroupCapture{Time: t0, Offsets: []store.GroupOffset{{Group: "old", Partition: 0, Offset: 1, LogEnd: 5}}})
	storetest.PutGroupCapture(t, st, v1, store.GroupCapture{Time: t0.Add(time.Minute), Offsets: []store.GroupOffset{
		{Group: "billing", Partition: 0, Offset: 90, LeaderEpoch: -1, LogStart: 0, LogEnd: 100},
		{Group: "billing", Partition: 1, Offset: 30, LeaderEpoch: -1, LogStart: 0, LogEnd: 30},
		{Group: "audit", Partition: 1, Offset: 10, LeaderEpoch: -1, LogStart: -1, LogEnd: -1},
	}})
	ts, err := ListSnapshots(ctx, st, "orders")
	if err != nil {
		t.Fatal(err)
	}
	var got *GroupsDescription
	for _, s := range ts.Snapshots {
		if s.Version == 1 {
			got = s.Groups
		} else if s.Groups != nil {
			t.Errorf("v%d: groups %+v, want none", s.Version, s.Groups)
		}
	}
	want := &GroupsDescription{Captures: 2, Newest: t0.Add(time.Minute), Groups: []GroupDescription{
		{Group: "audit", Partitions: 1, Lag: 0}, {Group: "billing", Partitions: 2, Lag: 10}}}
	if got == nil || got.Captures != want.Captures || !got.Newest.Equal(want.Newest) || len(got.Groups) != 2 ||
		got.Groups[0] != want.Groups[0] || got.Groups[1] != want.Groups[1] {
		t.Fatalf("snapshot list groups = %+v, want %+v", got, want)
	}
	td, err := Describe(ctx, st, "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	if td.Snapshots[0].Groups == nil || td.Snapshots[0].Groups.Captures != 2 {
		t.Fatalf("describe v1 groups = %+v", td.Snapshots[0].Groups)
	}
}

func TestVerifyChecksGroupCaptures(t *testing.T) {
	ctx := context.Background()
	st, dir := knownStore(t)
	t0 := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	storetest.PutGroupCapture(t, st, v1, store.GroupCapture{Time: t0, Offsets: []store.GroupOffset{{Group: "g", Partition: 0, Offset: 3, LeaderEpoch: -1, LogStart: 0, LogEnd: 5}}})
	storetest.PutGroupCapture(t, st, v1, store.GroupCapture{Time: t0.Add(time.Second), Offsets: []store.GroupOffset{
		{Group: "g", Partition: 0, Offset: 3, LeaderEpoch: -1, LogStart: 9, LogEnd: 5}}})
	storetest.PutGroupCapture(t, st, v1, store.GroupCapture{Time: t0.Add(2 * time.Second), Offsets: []store.GroupOffset{{Group: "g", Partition: 0, Offset: 4, LeaderEpoch: -1, LogStart: 0, LogEnd: 5}}})
	refs, err := st.GroupCaptures(ctx, v1)
	if err != nil || len(refs) != 3 {
		t.Fatalf("captures %v, %v", refs, err)
	}
	// Damage the newest one as a torn write would.
	path := filepath.Join(dir, filepath.FromSlash(refs[2].Key()))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, st, []string{"orders"}, VerifyOptions{Snapshot: "1"})
	if err != nil {
		t.Fatal(err)
	}
	var probs []Problem
	for _, p := range rep.Snapshots[0].Problems {
		if p.Kind == ProblemGroups {
			probs = append(probs, p)
		}
	}
	if len(probs) != 2 || rep.Damaged != 2 || rep.Snapshots[0].GroupCaptures != 2 {
		t.Fatalf("verify: %d damaged, %d captures read, group problems %+v; want the disordered range and the torn capture", rep.Damaged, rep.Snapshots[0].GroupCaptures, probs)
	}
	if probs[0].Object != refs[1].Key() || !strings.Contains(probs[0].Detail, "log start 9 is after log end 5") {
		t.Errorf("first problem %+v, want %s's log range", probs[0], refs[1].Key())
	}
	if probs[1].Object != refs[2].Key() || !strings.Contains(probs[1].Detail, "damaged") {
		t.Errorf("second problem %+v, want %s damaged", probs[1], refs[2].Key())
	}
	// describe still works, and says the newest capture is damaged.
	td, err := Describe(ctx, st, "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := td.Snapshots[0].Groups; g == nil || g.Damaged == "" {
		t.Fatalf("describe groups = %+v, want the newest capture reported damaged", g)
	}
}
