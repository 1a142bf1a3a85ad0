package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka/devcluster"
)

var words = strings.Fields("order payment customer shipped pending refund invoice warehouse item quantity price total discount tax region europe america asia")

// benchTopic fills a topic on a data-directory-backed kfake cluster with
// about totalBytes of semi-compressible JSON records.
func benchTopic(b *testing.B, addr, topic string, totalBytes int) (records int, payload int64) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var batch []*kgo.Record
	for payload < int64(totalBytes) {
		var v strings.Builder
		fmt.Fprintf(&v, `{"id":%d,"words":"`, records)
		for v.Len() < 480 {
			v.WriteString(words[rng.IntN(len(words))])
			v.WriteByte(' ')
		}
		v.WriteString(`"}`)
		k := fmt.Sprintf("key-%d", rng.IntN(100000))
		batch = append(batch, &kgo.Record{Topic: topic, Partition: int32(records % 6), Key: []byte(k), Value: []byte(v.String())})
		payload += int64(len(k) + v.Len())
		records++
		if len(batch) == 5000 {
			if err := cl.ProduceSync(context.Background(), batch...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := cl.ProduceSync(context.Background(), batch...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	return records, payload
}

func timeRun(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	start := time.Now()
	cmd := exec.Command(args[0], args[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", name, err, out)
	}
	return time.Since(start)
}

// BenchmarkBackupVsKcat measures `kbackup backup --once` beside `kcat -C`
// writing the same topic to a local file, in the same run, on a kfake broker
// with a data directory. Ratios above 1 mean kbackup is faster.
func BenchmarkBackupVsKcat(b *testing.B) {
	if _, err := exec.LookPath("kcat"); err != nil {
		b.Fatal("kcat is not installed (apt-get install -y kcat)")
	}
	c, err := devcluster.Start(devcluster.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	createTopic(b, c.Addr(), "bench", 6, nil)
	records, payload := benchTopic(b, c.Addr(), "bench", 200<<20)
	mb := float64(payload) / 1e6
	b.Logf("topic: %d records, %.0f MB of keys and values", records, mb)
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		out := filepath.Join(dir, "kcat.out")
		kcat := timeRun(b, "kcat", "sh", "-c", fmt.Sprintf("kcat -C -b %s -t bench -o beginning -e -q -X fetch.message.max.bytes=8388608 > %s", c.Addr(), out))
		none := timeRun(b, "kbackup none", binary, "backup", "--once", "--brokers", c.Addr(), "--storage", filepath.Join(dir, "none"), "--compression", "none")
		zstd := timeRun(b, "kbackup zstd", binary, "backup", "--once", "--brokers", c.Addr(), "--storage", filepath.Join(dir, "zstd"), "--compression", "zstd")
		b.ReportMetric(mb/kcat.Seconds(), "kcat-MB/s")
		b.ReportMetric(mb/none.Seconds(), "none-MB/s")
		b.ReportMetric(mb/zstd.Seconds(), "zstd-MB/s")
		b.ReportMetric(float64(records)/none.Seconds(), "none-records/s")
		b.ReportMetric(kcat.Seconds()/none.Seconds(), "none-vs-kcat")
		b.ReportMetric(kcat.Seconds()/zstd.Seconds(), "zstd-vs-kcat")
		_ = os.RemoveAll(dir)
	}
}
