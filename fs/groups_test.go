package fs

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

// TestGroupsFiles: the mount shows the newest consumer-group capture of
// a snapshot as groups/GROUP.jsonl; cat reads exactly the size stat
// reports, and a newer capture replaces it.
func TestGroupsFiles(t *testing.T) {
	b := newBackup(t)
	ctx := context.Background()
	v2 := store.Loc{Topic: "orders", Version: 2}
	put := func(at time.Time, offs ...store.GroupOffset) {
		t.Helper()
		l := lease(t, b.st, "orders")
		defer l.Release(ctx)
		if err := b.st.PutGroupCapture(ctx, l, v2, store.GroupCapture{Time: at, Offsets: offs}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := baseTime.Add(2 * time.Hour)
	put(t0, store.GroupOffset{Group: "billing", Partition: 0, Offset: 7, LeaderEpoch: -1, LogStart: 0, LogEnd: 120},
		store.GroupOffset{Group: "billing", Partition: 2, Offset: 139, LeaderEpoch: 1, Metadata: "x", LogStart: 0, LogEnd: 140})
	mp := mountStore(t, b.st, Options{Refresh: 50 * time.Millisecond})
	dir := filepath.Join(mp, "topics", "orders", "latest", "groups")
	if got := sh(t, "ls "+filepath.Join(mp, "topics/orders/snapshots/v2")); got != "0\n1\n2\ngroups\nindex\nsnapshot.yaml\n" {
		t.Fatalf("ls v2 = %q", got)
	}
	if got := sh(t, "ls "+dir); got != "billing.jsonl\n" {
		t.Fatalf("ls groups = %q", got)
	}
	file := filepath.Join(dir, "billing.jsonl")
	want := fmt.Sprintf(`{"group":"billing","topic":"orders","partition":0,"offset":7,"leader_epoch":-1,"metadata":"","capture_time":"%s","log_start":0,"log_end":120,"lag":113}
{"group":"billing","topic":"orders","partition":2,"offset":139,"leader_epoch":1,"metadata":"x","capture_time":"%[1]s","log_start":0,"log_end":140,"lag":1}
`, t0.UTC().Format(time.RFC3339Nano))
	if got := sh(t, "cat "+file); got != want {
		t.Fatalf("cat billing.jsonl:\n%s\nwant\n%s", got, want)
	}
	if got := sh(t, "stat -c %s "+file); strings.TrimSpace(got) != fmt.Sprint(len(want)) {
		t.Fatalf("stat size %s, cat read %d bytes", got, len(want))
	}
	// A newer capture (billing done, audit new) shows after a refresh.
	put(t0.Add(time.Minute), store.GroupOffset{Group: "audit", Partition: 1, Offset: 130, LeaderEpoch: -1, LogStart: 0, LogEnd: 130})
	deadline := time.Now().Add(10 * time.Second)
	for sh(t, "ls "+dir) != "audit.jsonl\n" {
		if time.Now().After(deadline) {
			t.Fatalf("ls groups after a new capture = %q", sh(t, "ls "+dir))
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := sh(t, "cat "+filepath.Join(dir, "audit.jsonl"))
	if !strings.Contains(got, `"offset":130`) || !strings.Contains(got, `"lag":0`) {
		t.Fatalf("cat audit.jsonl = %q", got)
	}
	if sz := strings.TrimSpace(sh(t, "stat -c %s "+filepath.Join(dir, "audit.jsonl"))); sz != fmt.Sprint(len(got)) {
		t.Fatalf("stat size %s, cat read %d bytes", sz, len(got))
	}
}

// TestRestoreByCopyWithGroups: a snapshot with groups/ still restores by
// cp -r (the group files copy along and start nothing of their own), and
// cp -r of groups/ alone restores nothing.
func TestRestoreByCopyWithGroups(t *testing.T) {
	b := newBackup(t)
	ctx := context.Background()
	l := lease(t, b.st, "orders")
	err := b.st.PutGroupCapture(ctx, l, store.Loc{Topic: "orders", Version: 2}, store.GroupCapture{Time: baseTime.Add(2 * time.Hour),
		Offsets: []store.GroupOffset{{Group: "billing", Partition: 1, Offset: 3, LeaderEpoch: -1, LogStart: 0, LogEnd: 130}}})
	l.Release(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fr := &fakeRestorer{reqs: map[string]RestoreRequest{}}
	mp := mountStore(t, b.st, Options{Restorer: fr})
	snap := mp + "/topics/orders/snapshots/v2"
	sh(t, "cp -r "+snap+" "+mp+"/restore/")
	if got := sh(t, "cat "+mp+"/restore/v2/status"); !strings.Contains(got, "source: orders/v2 target: orders partitions: [] ") {
		t.Errorf("cp -r vN restore/ with groups/: %s", got)
	}
	out, err := runErr("cp", "-r", snap+"/groups", mp+"/restore/G")
	if names, _ := fr.List(ctx); len(names) != 1 {
		t.Errorf("cp -r groups/ restore/G (%v: %s) started restores: %v", err, out, names)
	}
}
