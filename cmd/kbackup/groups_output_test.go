package main

import (
	"context"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

// TestGroupsGoldenOutputs: describe and snapshot list show a snapshot's
// consumer groups as of its newest capture.
func TestGroupsGoldenOutputs(t *testing.T) {
	st, _ := knownStorage(t)
	ctx := context.Background()
	loc := store.Loc{Topic: "orders", Version: 2}
	l, err := st.AcquireLease(ctx, "orders", "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)
	for i, c := range []store.GroupCapture{
		{Time: t0, Offsets: []store.GroupOffset{{Group: "billing", Partition: 0, Offset: 5, LeaderEpoch: -1, LogEnd: 20}}},
		{Time: t0.Add(time.Minute), Offsets: []store.GroupOffset{
			{Group: "audit", Partition: 0, Offset: 20, LeaderEpoch: 0, LogEnd: 20},
			{Group: "billing", Partition: 0, Offset: 12, LeaderEpoch: -1, Metadata: "m", LogEnd: 20}}},
	} {
		if err := st.PutGroupCapture(ctx, l, loc, c); err != nil {
			t.Fatalf("capture %d: %v", i, err)
		}
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"describe_groups", []string{"describe", "orders"}},
		{"snapshot_list_groups", []string{"snapshot", "list", "orders"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tc.name, out)
		})
	}
}
