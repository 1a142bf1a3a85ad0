package integration

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbackup/kbackup/store"
)

// TestGroupsCommitSurvivesKill9: the restore binary is SIGKILLed while it
// commits consumer-group offsets (the fifth group's commit in flight),
// rerun with the same arguments, and the groups end with the offsets of
// an uninterrupted restore of the same snapshot; rollback then removes
// them all, as the groups had none before.
func TestGroupsCommitSurvivesKill9(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	createTopic(t, c.Addr(), "src", 3, nil)
	cl := client(t, c.Addr())
	var recs []*kgo.Record
	for i := 0; i < 3000; i++ {
		recs = append(recs, &kgo.Record{Topic: "src", Partition: int32(i % 3), Key: []byte(fmt.Sprint("k", i)),
			Value: []byte(fmt.Sprint("v", i)), Timestamp: time.Now().Add(-time.Hour)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dir, stateDir := t.TempDir(), t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir); r.code != 0 {
		t.Fatalf("backup: %s", r.stderr)
	}
	adm := kadm.NewClient(cl)
	capture := store.GroupCapture{Time: time.Now()}
	var groups []string
	for g := 0; g < 12; g++ {
		name := fmt.Sprintf("g%02d", g)
		groups = append(groups, name)
		var os kadm.Offsets
		for p := int32(0); p < 3; p++ {
			off := int64((g*83 + int(p)*17) % 1001)
			os.Add(kadm.Offset{Topic: "src", Partition: p, At: off, LeaderEpoch: -1})
			capture.Offsets = append(capture.Offsets, store.GroupOffset{Group: name, Partition: p, Offset: off, LeaderEpoch: -1, LogStart: 0, LogEnd: 1000})
		}
		if _, err := adm.CommitOffsets(ctx, name, os); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := st.AcquireLease(ctx, "src", "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutGroupCapture(ctx, l, store.Loc{Topic: "src", Version: 1}, capture); err != nil {
		t.Fatal(err)
	}
	_ = l.Release(ctx)
	st.Close()

	restoreArgs := func(target, prefix string) []string {
		return []string{"restore", "--brokers", c.Addr(), "--storage", dir, "--topic", "src:" + target, "--create-topics",
			"--retention", "extend", "--groups", "(.*):" + prefix + "$1", "--state-dir", stateDir}
	}
	if r := kbackup(t, restoreArgs("ref", "ref-")...); r.code != 0 {
		t.Fatalf("reference restore: %s", r.stderr)
	}

	k := c.Kfake()
	var commits atomic.Int32
	reached, killed := make(chan struct{}), make(chan struct{})
	k.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		switch n := commits.Add(1); {
		case n < 5:
			k.KeepControl()
		case n == 5:
			close(reached)
			<-killed // the process dies with its commit in flight
		}
		return nil, nil, false
	})
	cmd, logs := startKbackup(t, restoreArgs("dst", "r-")...)
	select {
	case <-reached:
	case <-time.After(90 * time.Second):
		t.Fatalf("the restore never reached its fifth commit: %s", logs)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	close(killed)
	partial := 0
	for _, g := range groups {
		if len(committed(t, adm, "r-"+g, "dst")) > 0 {
			partial++
		}
	}
	if partial == 0 || partial >= len(groups) {
		t.Fatalf("after the kill %d of %d groups are committed: the kill did not land in the commit step", partial, len(groups))
	}

	if r := kbackup(t, restoreArgs("dst", "r-")...); r.code != 0 {
		t.Fatalf("rerun: exit %d: %s", r.code, r.stderr)
	}
	for _, g := range groups {
		want, got := committed(t, adm, "ref-"+g, "ref"), committed(t, adm, "r-"+g, "dst")
		if fmt.Sprint(want) != fmt.Sprint(got) || len(got) != 3 {
			t.Fatalf("group %s after kill -9 and rerun: %v, uninterrupted: %v", g, got, want)
		}
	}
	r := kbackup(t, "groups", "rollback", "--brokers", c.Addr(), "--target", "dst", "--state-dir", stateDir)
	if r.code != 0 || strings.Count(r.stdout, "none (deleted)") != 3*len(groups) {
		t.Fatalf("rollback: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	for _, g := range groups {
		if got := committed(t, adm, "r-"+g, "dst"); len(got) != 0 {
			t.Fatalf("group r-%s after rollback: %v, want none", g, got)
		}
	}
}

func committed(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	rs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		return nil // the group does not exist
	}
	out := map[int32]int64{}
	for p, r := range rs[topic] {
		if r.Err == nil && r.At >= 0 {
			out[p] = r.At
		}
	}
	return out
}
