package backup_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"gocloud.dev/blob"

	"github.com/kbackup/kbackup/integration/benchtab"
	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// BenchmarkBackup measures a one-shot backup of the same topic from an
// in-process cluster into the file backend and into each emulator, as MB/s
// of record payload. The backends warm up once and alternate (benchtab);
// each run backs up into a fresh prefix that is deleted after it, so every
// run meets an equally full server. Each emulator is reported beside the file
// backend: a figure of the code path and the emulator, not of the cloud.
func BenchmarkBackup(b *testing.B) {
	addr, payload := benchCluster(b, 4, 2000, 8<<10) // 4 partitions x 2000 x 8 KiB = 64 MiB
	dir := b.TempDir()
	type backend struct {
		name, settings string
		url, raw       func(query string) string
	}
	backends := []backend{{
		name: "file", settings: "a local directory",
		url: func(q string) string { return "file://" + filepath.ToSlash(dir) + "?" + q[1:] },
		raw: func(string) string { return "file://" + filepath.ToSlash(dir) },
	}}
	var s3 *storetest.S3Server
	for _, e := range storetest.Emulators {
		var host string
		if e.Name == "S3" { // keep the server: it counts HTTP requests
			s3 = storetest.StartS3(b)
			host = s3.Host
		} else {
			host = e.Start(b)
		}
		backends = append(backends, backend{
			name: e.Name, settings: emulatorSettings[e.Name],
			url: func(q string) string { return e.URL(b, host, q) },
			raw: func(string) string { return e.URL(b, host, "") },
		})
	}
	var cs []benchtab.Contender
	lastRequests := map[string]store.RequestCounts{} // of each backend's last run
	for _, be := range backends {
		ctx := context.Background()
		bucket, err := blob.OpenBucket(ctx, be.raw(""))
		if err != nil {
			b.Fatalf("open %s: %v", be.name, err)
		}
		b.Cleanup(func() { bucket.Close() })
		run := 0
		cs = append(cs, benchtab.Contender{
			Name:     be.name,
			Settings: be.settings,
			Run: func(m *benchtab.Measure) error {
				run++
				prefix := fmt.Sprintf("run%d/", run)
				st, err := store.Open(ctx, be.url("&prefix="+prefix))
				if err != nil {
					return err
				}
				defer st.Close()
				before := st.Requests()
				var httpBefore int64
				if be.name == "S3" {
					httpBefore = s3.Requests.Load()
				}
				err = m.MBps("MB/s", payload, func() error {
					sum := backupOnce(b, st, addr)
					if sum.PayloadBytes != payload {
						return fmt.Errorf("backed up %d payload bytes, want %d", sum.PayloadBytes, payload)
					}
					return nil
				})
				if err != nil {
					return err
				}
				if be.name == "S3" {
					m.Set("req/GB", float64(s3.Requests.Load()-httpBefore)/(float64(payload)/1e9))
					lastRequests[be.name] = st.Requests().Sub(before)
				}
				return deletePrefix(ctx, bucket, prefix)
			},
		})
	}
	res := benchtab.Run(b, benchtab.Options{}, cs...)
	file := res.Side("file", "MB/s")
	res.Figure(benchtab.Figure{ID: "backup-file", Name: "backup --once to file storage", Unit: "MB/s",
		Kbackup: file, Note: "backup.Run --once, defaults; 64 MiB of incompressible records, 4 partitions, in-process kfake"})
	for _, c := range cs[1:] {
		res.Figure(benchtab.Figure{ID: "backup-" + c.Name + "-vs-file", Name: "backup --once to " + c.Name + " emulator vs file storage",
			Unit: "MB/s", Kbackup: res.Side(c.Name, "MB/s"), Peer: &file})
	}
	// Request cost: the HTTP requests the S3 server answered per GB backed
	// up. The topic is 64 MiB, so the requests every run makes once (lease,
	// manifest, listings at start) weigh 16 times what they would in a GB.
	if s3 != nil {
		res.Figure(benchtab.Figure{ID: "backup-requests-S3", Name: "S3 requests per GB backed up, one 64 MiB run scaled to 1 GB",
			Unit: "req/GB", Kbackup: res.Side("S3", "req/GB"),
			Note: "HTTP requests at the emulator; default settings, 64 MiB in 4 partitions scaled to 1 GB, so each run's fixed requests count 16 times (the steady-state cost per GB is BenchmarkBackupRequests); kbackup's calls in the last run: " +
				requestBreakdown(lastRequests["S3"]) + " (an upload is 8 MiB parts plus 2 requests)"})
	}
}

// requestBreakdown prints the requests of each kind that were made, as
// "upload 8, create 9, list 12".
func requestBreakdown(c store.RequestCounts) string {
	var parts []string
	for _, op := range store.Ops() {
		if n := c.Requests[op]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", op, n))
		}
	}
	return strings.Join(parts, ", ")
}

// emulatorSettings describes each emulator as the benchmark runs it.
var emulatorSettings = map[string]string{
	"S3":    "gofakes3 in memory, in-process, on 127.0.0.1",
	"GCS":   "fake-gcs-server in memory on 127.0.0.1",
	"Azure": "Azurite in memory on 127.0.0.1",
}

// deletePrefix deletes every object under prefix.
func deletePrefix(ctx context.Context, bucket *blob.Bucket, prefix string) error {
	it := bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := bucket.Delete(ctx, obj.Key); err != nil {
			return err
		}
	}
}

// benchCluster starts a cluster with one topic of incompressible records and
// returns its address and the payload size.
func benchCluster(b *testing.B, partitions int32, perPartition, size int) (string, int64) {
	c, err := devcluster.Start(devcluster.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, "bench"); err != nil {
		b.Fatal(err)
	}
	var total int64
	var recs []*kgo.Record
	for i := 0; i < perPartition; i++ {
		for p := int32(0); p < partitions; p++ {
			v := make([]byte, size)
			_, _ = rand.Read(v)
			recs = append(recs, &kgo.Record{Topic: "bench", Partition: p, Value: v})
			total += int64(size)
		}
		if len(recs) >= 400 || i == perPartition-1 {
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	return c.Addr(), total
}
