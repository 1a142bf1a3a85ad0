package backup_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/integration/benchtab"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// BenchmarkBackupRequests counts the HTTP requests the S3 emulator answers
// per GB backed up in steady state, with default settings. Each kind of
// data is backed up twice, as a small topic and a large one; the
// difference in requests over the difference in payload is the cost of
// each further GB (segment uploads and index commits), without the fixed
// cost of a run (lease, manifest, listings, the last partial segments),
// which is reported beside it. The large topics hold at least two full
// 64 MiB segments per partition more than the small ones.
//
//	go test ./engine/backup -run '^$' -bench BackupRequests -benchtime 1x
func BenchmarkBackupRequests(b *testing.B) {
	c, err := devcluster.Start(devcluster.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	s3 := storetest.StartS3(b)
	ctx := context.Background()
	bucket, err := blob.OpenBucket(ctx, storetest.S3URL(b, s3.Host, ""))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bucket.Close() })
	kinds := []struct {
		name, settings string
		partitions     int32
		small, large   int64
	}{
		{"json", "JSON records of about 1 KiB, 1 partition", 1, 64 << 20, 768 << 20},
		{"random", "incompressible 8 KiB records, 2 partitions", 2, 64 << 20, 320 << 20},
	}
	var cs []benchtab.Contender
	run := 0
	for _, k := range kinds {
		for _, size := range []int64{k.small, k.large} {
			produceKind(b, c.Addr(), fmt.Sprintf("%s-%d", k.name, size>>20), k.name, k.partitions, size)
		}
		cs = append(cs, benchtab.Contender{
			Name: k.name, Settings: k.settings,
			Run: func(m *benchtab.Measure) error {
				var reqs [2]float64
				var payload, stored [2]int64
				for i, size := range []int64{k.small, k.large} {
					run++
					prefix := fmt.Sprintf("run%d/", run)
					st, err := store.Open(ctx, storetest.S3URL(b, s3.Host, "&prefix="+prefix))
					if err != nil {
						return err
					}
					before := s3.Requests.Load()
					bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
					sum, err := backup.Run(bctx, st, &kafka.Config{Brokers: []string{c.Addr()}}, backup.Options{
						Once: true, Holder: "bench", Topics: []string{fmt.Sprintf("%s-%d", k.name, size>>20)}, NoGroups: true})
					cancel()
					if err != nil {
						st.Close()
						return err
					}
					reqs[i], payload[i], stored[i] = float64(s3.Requests.Load()-before), sum.PayloadBytes, sum.Stored
					if i == 1 {
						// Restore's read path: every record of the backup, as
						// restore and verify read them (store.Walk).
						before := s3.Requests.Load()
						if err := walkAll(ctx, st, fmt.Sprintf("%s-%d", k.name, size>>20)); err != nil {
							st.Close()
							return err
						}
						m.Set("read req/GB", float64(s3.Requests.Load()-before)/(float64(payload[1])/1e9))
						// The mount's read path: records.jsonl of every
						// partition read front to back in 1 MiB reads, four
						// at a time, as the kernel's read-ahead asks.
						before = s3.Requests.Load()
						if err := mountReadAll(ctx, st, fmt.Sprintf("%s-%d", k.name, size>>20)); err != nil {
							st.Close()
							return err
						}
						m.Set("mount req/GB", float64(s3.Requests.Load()-before)/(float64(payload[1])/1e9))
					}
					st.Close()
					if err := deletePrefix(ctx, bucket, prefix); err != nil {
						return err
					}
				}
				perByte := (reqs[1] - reqs[0]) / float64(payload[1]-payload[0])
				m.Set("req/GB", perByte*1e9)
				m.Set("fixed", reqs[0]-perByte*float64(payload[0]))
				m.Set("compression", float64(payload[1])/float64(stored[1]))
				return nil
			},
		})
	}
	res := benchtab.Run(b, benchtab.Options{}, cs...)
	for _, k := range kinds {
		res.Figure(benchtab.Figure{ID: "restore-read-requests-" + k.name, Name: "S3 requests per GB read by restore (" + k.name + ")",
			Unit: "req/GB", Kbackup: res.Side(k.name, "read req/GB"),
			Note: fmt.Sprintf("every record of the %d MiB backup read through store.Walk, restore's read path: segments fetched in windows of 8 MiB, not per block; includes reading the manifest and index", k.large>>20)})
		res.Figure(benchtab.Figure{ID: "mount-read-requests-" + k.name, Name: "S3 requests per GB read through the mount (" + k.name + ")",
			Unit: "req/GB", Kbackup: res.Side(k.name, "mount req/GB"),
			Note: fmt.Sprintf("records.jsonl of every partition of the %d MiB backup read in order through fs/browse, 1 MiB reads four at a time as the kernel's read-ahead sends them: blocks read in order are fetched in windows growing to 8 MiB; includes reading the manifest and index", k.large>>20)})
		res.Figure(benchtab.Figure{ID: "backup-requests-steady-" + k.name, Name: "S3 requests per further GB backed up (" + k.name + ")",
			Unit: "req/GB", Kbackup: res.Side(k.name, "req/GB"), Goal: benchtab.AtMost(40, "issue 13"),
			Note: fmt.Sprintf("HTTP requests at the emulator, default settings (64 MiB segments, 8 MiB parts); the difference between a %d MiB and a %d MiB topic; %s; compressed %.1fx; each run also makes %.0f requests whatever its size",
				k.small>>20, k.large>>20, k.settings, benchtab.Summarize(res.Side(k.name, "compression").Samples).Median, benchtab.Summarize(res.Side(k.name, "fixed").Samples).Median)})
	}
}

// activeIndex reads the index of topic's active snapshot.
func activeIndex(ctx context.Context, st *store.Store, topic string) (store.Loc, *store.Index, error) {
	m, err := st.ReadManifest(ctx, topic)
	if err != nil {
		return store.Loc{}, nil, err
	}
	loc := store.Loc{Topic: topic, Version: m.Active}
	ix, err := st.ReadIndex(ctx, loc)
	return loc, ix, err
}

// walkAll reads every record of topic's active snapshot.
func walkAll(ctx context.Context, st *store.Store, topic string) error {
	loc, ix, err := activeIndex(ctx, st, topic)
	if err != nil {
		return err
	}
	for _, p := range ix.PartitionIDs() {
		if err := st.Walk(ctx, loc, ix.Partition(p), store.Walk{Record: func(*store.SegmentEntry, *store.Record) error { return nil }}); err != nil {
			return err
		}
	}
	return nil
}

// mountReadAll reads records.jsonl of every partition of topic's active
// snapshot as the mount serves it to cat: 1 MiB reads, four in flight.
func mountReadAll(ctx context.Context, st *store.Store, topic string) error {
	loc, ix, err := activeIndex(ctx, st, topic)
	if err != nil {
		return err
	}
	tr := browse.New(ctx, st, browse.Options{})
	for _, p := range ix.PartitionIDs() {
		rp := browse.PartitionPath(loc, p)
		rp.Kind = browse.KindRecords
		f, err := tr.Open(ctx, rp)
		if err != nil {
			return err
		}
		var next atomic.Int64
		var g errgroup.Group
		for range 4 {
			g.Go(func() error {
				buf := make([]byte, 1<<20)
				for {
					off := next.Add(1<<20) - 1<<20
					if off >= f.Size {
						return nil
					}
					if _, err := f.ReadAt(buf[:min(int64(len(buf)), f.Size-off)], off); err != nil && err != io.EOF {
						return err
					}
				}
			})
		}
		err = g.Wait()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// produceKind fills a new topic of partitions partitions with size bytes of
// payload: JSON records ("json") or random bytes ("random").
func produceKind(b *testing.B, addr, topic, kind string, partitions int32, size int64) {
	b.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		b.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(1, uint64(size)))
	events := []string{"page_view", "add_to_cart", "purchase", "refund", "login", "logout"}
	var recs []*kgo.Record
	for total, i := int64(0), 0; total < size; i++ {
		var v []byte
		if kind == "random" {
			v = make([]byte, 8<<10)
			_, _ = rand.Read(v)
		} else {
			v = fmt.Appendf(nil, `{"id":%d,"user":"user-%06d","session":"%016x","event":%q,"amount":%d.%02d,"currency":"EUR",`+
				`"ts":"2026-12-03T%02d:%02d:%02d.%03dZ","page":"/shop/category/%d/item/%d","agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",`+
				`"tags":["web","eu-west","ab-test-%d"],"cart":[{"sku":"SKU-%05d","qty":%d,"price":%d.99},{"sku":"SKU-%05d","qty":%d,"price":%d.49}],"note":"%x"}`,
				i, rng.IntN(200000), rng.Uint64(), events[rng.IntN(len(events))], rng.IntN(500), rng.IntN(100),
				rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000), rng.IntN(50), rng.IntN(10000), rng.IntN(4),
				rng.IntN(100000), 1+rng.IntN(3), rng.IntN(200), rng.IntN(100000), 1+rng.IntN(3), rng.IntN(200), rng.Uint64())
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "user-%06d", i%200000), Value: v})
		total += int64(len(v)) + int64(len(recs[len(recs)-1].Key))
		if len(recs) >= 1000 || total >= size {
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
}
