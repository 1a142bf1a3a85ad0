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
