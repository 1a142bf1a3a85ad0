package backup_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// TestBackupRoundTrip backs the sample topics of an embedded cluster up
// into each backend and reads every record back through store.
func TestBackupRoundTrip(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, url, _ string) {
		addr, want := seededCluster(t)
		open := storetest.Opener(t, url)
		backupOnce(t, open(), addr)
		verifyBackup(t, open(), want)
	})
}

// TestBackupFaults runs a backup through a proxy that fails 5% of requests,
// then checks directly on the emulator that the backup is whole: every
// record, every indexed segment intact, no orphan or duplicate.
func TestBackupFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs on the emulators; skipped with -short (make test runs it)")
	}
	for _, e := range storetest.Emulators {
		t.Run(e.Name, func(t *testing.T) {
			host := e.Start(t)
			addr, want := seededCluster(t)
			proxy := storetest.StartFaultProxy(t, host)
			proxy.SetFaults(0.05, storetest.Fault503, storetest.FaultReset, storetest.FaultResetAfter)
			phost := proxy.Host
			backupOnce(t, storetest.Opener(t, e.URL(t, phost, "&prefix="+storetest.Prefix))(), addr)
			faults, total := proxy.Faults()
			t.Logf("%d of %d requests failed by the proxy", faults, total)
			if faults == 0 {
				t.Fatal("the proxy injected no fault")
			}
			verifyBackup(t, storetest.Opener(t, e.URL(t, host, "&prefix="+storetest.Prefix))(), want)
		})
	}
}

// seededCluster starts an embedded cluster with the sample topics and
// returns its address and the committed records, keyed "topic/p/offset".
func seededCluster(t testing.TB) (string, map[string]uint64) {
	c, err := devcluster.Start(devcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := devcluster.Seed(ctx, c.Addr()); err != nil {
		t.Fatal(err)
	}
	want := consumeAll(t, ctx, c.Addr())
	if len(want) < 8000 { // 3000 orders, 5000 events, 200 committed payments
		t.Fatalf("consumed only %d sample records", len(want))
	}
	return c.Addr(), want
}

// consumeAll reads every committed record of the cluster's topics.
func consumeAll(t testing.TB, ctx context.Context, addr string) map[string]uint64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]map[int32]kgo.Offset{}
	remaining := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			if parts[o.Topic] == nil {
				parts[o.Topic] = map[int32]kgo.Offset{}
			}
			parts[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
			remaining++
		}
	})
	cl.AddConsumePartitions(parts)
	got := map[string]uint64{}
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume samples: %v", err)
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if !r.Attrs.IsControl() {
					got[recKey(r.Topic, r.Partition, r.Offset)] = recHash(r.Key, r.Value, r.Timestamp)
				}
			}
			end, _ := ends.Lookup(p.Topic, p.Partition)
			if n := len(p.Records); n > 0 && p.Records[n-1].Offset+1 >= end.Offset {
				if _, ok := parts[p.Topic][p.Partition]; ok {
					delete(parts[p.Topic], p.Partition)
					remaining--
				}
			}
		})
	}
	return got
}

func recKey(topic string, p int32, off int64) string { return fmt.Sprintf("%s/%d/%d", topic, p, off) }

func recHash(k, v []byte, ts time.Time) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%q|%q|%d", k, v, ts.UnixMilli())
	return h.Sum64()
}

func backupOnce(t testing.TB, st *store.Store, addr string) *backup.Summary {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := backup.Run(ctx, st, &kafka.Config{Brokers: []string{addr}}, backup.Options{Once: true, Holder: "test"})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return sum
}

// verifyBackup reads the whole backup and compares it with want. Every
// indexed segment must open and match its checksum; every segment object
// must be indexed exactly once.
func verifyBackup(t testing.TB, st *store.Store, want map[string]uint64) {
	t.Helper()
	ctx := context.Background()
	topics, err := st.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, topic := range topics {
		if strings.HasPrefix(topic, "race") { // lease race tests leave only leases
			continue
		}
		m, err := st.ReadManifest(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		loc := store.Loc{Topic: topic, Version: m.Active}
		ix, err := st.ReadIndex(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := st.ListSegments(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		ref := ix.Referenced()
		if len(ref) != len(ix.Segments) || len(objs) != len(ref) {
			t.Fatalf("%s: %d index entries, %d distinct, %d segment objects", loc, len(ix.Segments), len(ref), len(objs))
		}
		for _, e := range ix.Segments {
			if objs[e.ULID] != e.StoredBytes {
				t.Fatalf("%s: segment %s is %d bytes in storage, %d in the index", loc, e.ULID, objs[e.ULID], e.StoredBytes)
			}
			storetest.CheckSegmentBytes(t, st, loc, e)
			sr, err := st.OpenSegment(ctx, loc, e.ULID, e.StoredBytes)
			if err != nil {
				t.Fatal(err)
			}
			err = sr.Records(0, func(r *store.Record) error {
				k := recKey(topic, e.Partition, r.Offset)
				if _, dup := got[k]; dup {
					return errors.New("record stored twice: " + k)
				}
				got[k] = recHash(r.Key, r.Value, r.Timestamp)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("backup holds %d records, the cluster %d", len(got), len(want))
	}
	var bad []string
	for k, h := range want {
		if got[k] != h {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("%d records differ or are missing, first %s", len(bad), bad[0])
	}
}
