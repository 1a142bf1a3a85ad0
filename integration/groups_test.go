package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupOffsetsBackedUp: a franz-go group consumer reads part of a topic
// and commits; `kbackup backup --once` captures the group; `kbackup
// describe` names it and the mount's groups/<group>.jsonl holds exactly
// the offsets Kafka reports as committed (kadm), with the log end.
func TestGroupOffsetsBackedUp(t *testing.T) {
	c := startCluster(t)
	addr := c.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createTopic(t, addr, "orders", 3, nil)
	var rs []*kgo.Record
	for i := range 60 {
		rs = append(rs, &kgo.Record{Topic: "orders", Partition: int32(i % 3), Value: []byte(fmt.Sprint(i))})
	}
	if err := client(t, addr).ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	consume := func(group string, n int) {
		t.Helper()
		cl := client(t, addr, kgo.ConsumerGroup(group), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got []*kgo.Record
		for len(got) < n {
			fs := cl.PollRecords(ctx, n-len(got))
			if err := fs.Err0(); err != nil {
				t.Fatalf("%s: poll: %v", group, err)
			}
			got = append(got, fs.Records()...)
		}
		if err := cl.CommitRecords(ctx, got...); err != nil {
			t.Fatalf("%s: commit: %v", group, err)
		}
		cl.Close() // leaves the group
	}
	consume("readers", 25)
	consume("skipped", 10)

	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", addr, "--storage", dir, "--exclude-group", "skip.*"); r.code != 0 {
		t.Fatalf("backup exit %d: %s", r.code, r.stderr)
	}
	// Kafka's own answer, independent of kbackup.
	committed, err := kadm.NewClient(client(t, addr)).FetchOffsets(ctx, "readers")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	committed.Each(func(o kadm.OffsetResponse) { want[o.Partition] = o.At })
	if len(want) == 0 {
		t.Fatal("kadm reports no offsets committed by readers")
	}

	r := kbackup(t, "describe", "--storage", dir, "-o", "json", "orders")
	if r.code != 0 {
		t.Fatalf("describe exit %d: %s", r.code, r.stderr)
	}
	var desc struct {
		Topics []struct {
			Snapshots []struct {
				Groups *struct {
					Captures int
					Groups   []struct {
						Group      string
						Partitions int
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &desc); err != nil {
		t.Fatalf("describe output %q: %v", r.stdout, err)
	}
	g := desc.Topics[0].Snapshots[0].Groups
	if g == nil || g.Captures != 1 || len(g.Groups) != 1 || g.Groups[0].Group != "readers" || g.Groups[0].Partitions != len(want) {
		t.Fatalf("describe shows groups %+v; want one capture of readers on %d partitions", g, len(want))
	}
	if r := kbackup(t, "describe", "--storage", dir, "orders"); !strings.Contains(r.stdout, "readers") {
		t.Fatalf("describe text does not name the group:\n%s", r.stdout)
	}
	if r := kbackup(t, "verify", "--storage", dir); r.code != 0 {
		t.Fatalf("verify exit %d: %s%s", r.code, r.stdout, r.stderr)
	}

	mp := mountKbackup(t, dir)
	gdir := filepath.Join(mp, "topics", "orders", "latest", "groups")
	if got := shell(t, "ls "+gdir); got != "readers.jsonl\n" {
		t.Fatalf("ls groups = %q, want readers.jsonl only (skipped is excluded)", got)
	}
	file := filepath.Join(gdir, "readers.jsonl")
	b := []byte(shell(t, "cat "+file))
	if fi, err := os.Stat(file); err != nil || fi.Size() != int64(len(b)) {
		t.Fatalf("stat size %v (%v), cat read %d bytes", fi, err, len(b))
	}
	got := map[int32]int64{}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var line struct {
			Group     string
			Partition int32
			Offset    int64
			LogEnd    int64 `json:"log_end"`
			Lag       int64
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if line.Group != "readers" || line.LogEnd != 20 || line.Lag != 20-line.Offset {
			t.Errorf("line %s: want group readers, log end 20, lag = 20 - offset", l)
		}
		got[line.Partition] = line.Offset
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("mount shows offsets %v, Kafka reports %v committed", got, want)
	}
}
