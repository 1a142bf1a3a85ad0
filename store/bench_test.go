package store_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka/devcluster"
)

// BenchmarkBackup measures a one-shot backup of the same data from an
// in-process cluster into the file backend and each emulator, as MB/s of
// record payload and as a ratio to the file backend (x-file).
func BenchmarkBackup(b *testing.B) {
	addr, payload := benchCluster(b, 4, 2000, 8<<10) // 4 partitions x 2000 x 8 KiB = 64 MiB
	var fileMBps float64
	run := func(b *testing.B, url func(i int) string) {
		b.SetBytes(payload)
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			backupOnce(b, opener(b, url(i))(), addr)
		}
		mbps := float64(payload) * float64(b.N) / time.Since(start).Seconds() / 1e6
		if fileMBps == 0 {
			fileMBps = mbps
		}
		b.ReportMetric(mbps/fileMBps, "x-file")
	}
	b.Run("file", func(b *testing.B) {
		dir := b.TempDir()
		run(b, func(i int) string { return "file://" + filepath.ToSlash(dir) + fmt.Sprintf("?prefix=run%d/", i) })
	})
	for _, e := range emulators {
		b.Run(e.Name, func(b *testing.B) {
			host := e.Start(b)
			run(b, func(i int) string { return e.URL(b, host, fmt.Sprintf("&prefix=run%d/", i)) })
		})
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
