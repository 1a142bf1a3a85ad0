package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/engine/restore"
	"github.com/kbackup/kbackup/store"
)

// TestGroupsCommands restores orders with --groups (renamed), then plans
// from the saved state (-o json: every offset already committed, exactly
// where the source group stood), rolls back, plans again (commit), and
// applies. Bad input is a one-line usage error.
func TestGroupsCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := devCluster(t, ctx, true)
	dir, stateDir := t.TempDir(), t.TempDir()
	common := []string{"--brokers", c.Addr(), "--storage", dir, "--log-level", "warn", "--state-dir", stateDir}
	if code, _, stderr := runCtx(ctx, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--log-level", "warn"); code != 0 {
		t.Fatalf("backup: %d %s", code, stderr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var os kadm.Offsets
	src := map[int32]int64{0: 0, 1: 500, 2: 1000} // orders has 1000 records a partition
	for p, o := range src {
		os.Add(kadm.Offset{Topic: "orders", Partition: p, At: o, LeaderEpoch: -1})
	}
	if _, err := adm.CommitOffsets(ctx, "billing", os); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := st.AcquireLease(ctx, "orders", "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	capture := store.GroupCapture{Time: time.Now()}
	for p, o := range src {
		capture.Offsets = append(capture.Offsets, store.GroupOffset{Group: "billing", Partition: p, Offset: o, LeaderEpoch: -1, LogStart: 0, LogEnd: 1000})
	}
	if err := st.PutGroupCapture(ctx, l, store.Loc{Topic: "orders", Version: 1}, capture); err != nil {
		t.Fatal(err)
	}
	_ = l.Release(ctx)
	st.Close()

	code, stdout, stderr := runCtx(ctx, append([]string{"restore", "--topic", "orders:o2", "--create-topics", "--groups", "bill(.*):restored-bill$1"}, common...)...)
	if code != 0 || !strings.Contains(stdout, "o2: consumer groups") || !strings.Contains(stdout, "3 offsets committed") {
		t.Fatalf("restore: %d %q %q", code, stdout, stderr)
	}
	plan := func(sub string) []restore.GroupOffsetPlan {
		t.Helper()
		code, stdout, stderr := runCtx(ctx, append([]string{"groups", sub, "--target", "o2", "--groups", "billing:restored-billing", "-o", "json"}, common...)...)
		if code != 0 {
			t.Fatalf("groups %s: %d %s", sub, code, stderr)
		}
		var rows []restore.GroupOffsetPlan
		if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
			t.Fatalf("groups %s -o json: %v: %s", sub, err, stdout)
		}
		return rows
	}
	rows := plan("plan")
	if len(rows) != 3 {
		t.Fatalf("plan: %+v", rows)
	}
	for _, r := range rows {
		// The restored target is a copy: offsets are the same.
		if r.Group != "restored-billing" || r.TargetOffset != src[r.Partition] || r.Action != restore.ActionKeep || r.Lag != 1000-src[r.Partition] {
			t.Fatalf("plan after the restore: %+v", r)
		}
	}
	code, stdout, stderr = runCtx(ctx, append([]string{"groups", "rollback", "--target", "o2"}, common...)...)
	if code != 0 || strings.Count(stdout, "none (deleted)") != 3 {
		t.Fatalf("rollback: %d %q %q", code, stdout, stderr)
	}
	for _, r := range plan("plan") {
		if r.Action != restore.ActionCommit || r.Current != -1 {
			t.Fatalf("plan after rollback: %+v", r)
		}
	}
	plan("apply")
	for _, r := range plan("plan") {
		if r.Action != restore.ActionKeep {
			t.Fatalf("plan after apply: %+v", r)
		}
	}
	code, stdout, _ = runCtx(ctx, append([]string{"groups", "plan", "--target", "o2", "--groups", "billing:restored-billing"}, common...)...)
	if code != 0 || !strings.Contains(stdout, "GROUP") || !strings.Contains(stdout, "from billing") {
		t.Fatalf("plan table: %d %q", code, stdout)
	}

	for _, args := range [][]string{
		{"groups", "plan", "--groups", "x"},                                  // no --target
		{"groups", "plan", "--target", "o2", "--groups", "("},                // bad regex
		{"groups", "plan", "--target", "o2", "--groups", "x", "--at", "yes"}, // bad time
		{"restore", "--topic", "orders:o3", "--allow-rewind"},                // rewind without groups
	} {
		code, _, stderr := runCtx(ctx, append(args, common...)...)
		if code != exitUsage || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	code, _, stderr = runCtx(ctx, append([]string{"groups", "plan", "--target", "nothing", "--groups", "x"}, common...)...)
	if code != exitFailure || !strings.Contains(stderr, "no restore into nothing") {
		t.Fatalf("unknown target: %d %q", code, stderr)
	}
}
