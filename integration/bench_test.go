package integration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/integration/benchtab"
	"github.com/kbackup/kbackup/kafka/devcluster"
)

var words = strings.Fields("order payment customer shipped pending refund invoice warehouse item quantity price total discount tax region europe america asia")

// benchTopic fills a topic on a data-directory-backed kfake cluster with
// about totalBytes of semi-compressible JSON records.
func benchTopic(b *testing.B, addr, topic string, totalBytes int) (records int, payload, values int64) {
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
		values += int64(v.Len())
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
	return records, payload, values
}

// flush writes dirty pages out (untimed), so that one run's output is not
// written back during the next run.
func flush() { syscall.Sync() }

// BenchmarkBackupVsKcat measures `kbackup backup --once` (codec none and
// zstd) beside `kcat -C` writing the same topic to a local file, and beside a
// raw franz-go consumer (the consume limit), on a kfake broker with a data
// directory. Every contender warms up once uncounted, then they alternate
// for benchtab.MinRounds rounds; each run writes to a fresh directory that is
// removed and synced away after it. Throughput is MB/s of keys and values in
// the topic, for every contender.
func BenchmarkBackupVsKcat(b *testing.B) {
	if _, err := exec.LookPath("kcat"); err != nil {
		b.Fatal("kcat is not installed (apt-get install -y kcat)")
	}
	c, err := devcluster.Start(devcluster.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const partitions = 6
	createTopic(b, c.Addr(), "bench", partitions, nil)
	records, payload, values := benchTopic(b, c.Addr(), "bench", 200<<20)
	b.Logf("topic: %d records in %d partitions, %.0f MB of keys and values", records, partitions, float64(payload)/1e6)
	work := b.TempDir()

	kcat := benchtab.Contender{
		Name:     "kcat -C",
		Settings: "default fetch sizes, read_committed; values to a file",
		Run: func(m *benchtab.Measure) error {
			out := filepath.Join(work, "kcat.out")
			defer func() { os.Remove(out); flush() }()
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			defer f.Close()
			cmd := exec.Command("kcat", "-C", "-b", c.Addr(), "-t", "bench", "-o", "beginning", "-e", "-q")
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = f, &stderr
			if err := m.MBps("MB/s", payload, cmd.Run); err != nil {
				return fmt.Errorf("%w: %s", err, stderr.String())
			}
			if fi, err := f.Stat(); err != nil || fi.Size() != values+int64(records) {
				return fmt.Errorf("kcat wrote %v bytes, want %d (%v)", fi.Size(), values+int64(records), err)
			}
			return nil
		},
	}
	backup := func(codec string) benchtab.Contender {
		return benchtab.Contender{
			Name:     "kbackup backup --once --compression " + codec,
			Settings: "defaults (1 MiB per partition per fetch, read_committed); file storage on the same disk",
			Run: func(m *benchtab.Measure) error {
				dir := filepath.Join(work, "storage-"+codec)
				defer func() { os.RemoveAll(dir); flush() }()
				cmd := exec.Command(binary, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--compression", codec)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := m.MBps("MB/s", payload, cmd.Run); err != nil {
					return fmt.Errorf("%w: %s", err, out.String())
				}
				if want := fmt.Sprintf("%d records, ", records); !strings.Contains(out.String(), want) {
					return fmt.Errorf("summary does not say %q:\n%s", want, out.String())
				}
				return nil
			},
		}
	}
	consume := benchtab.Contender{
		Name:     "franz-go consumer",
		Settings: "kbackup's fetch sizes, read_committed, in-process, records dropped",
		Run: func(m *benchtab.Measure) error {
			return m.MBps("MB/s", payload, func() error { return consumeAll(c.Addr(), "bench", records) })
		},
	}
	none, zstd := backup("none"), backup("zstd")
	res := benchtab.Run(b, benchtab.Options{}, kcat, none, zstd, consume)

	note := fmt.Sprintf("%.0f MB, %d partitions, kfake with a data directory", float64(payload)/1e6, partitions)
	kcatSide := res.Side(kcat.Name, "MB/s")
	res.Figure(benchtab.Figure{ID: "backup-none-vs-kcat", Name: "backup --once, codec none, vs kcat -C", Unit: "MB/s",
		Kbackup: res.Side(none.Name, "MB/s"), Peer: &kcatSide, Goal: benchtab.AtLeast(1, "issue 2"), Note: note})
	res.Figure(benchtab.Figure{ID: "backup-zstd-vs-kcat", Name: "backup --once, zstd, vs kcat -C", Unit: "MB/s",
		Kbackup: res.Side(zstd.Name, "MB/s"), Peer: &kcatSide, Goal: benchtab.AtLeast(0.6, "issue 2"), Note: note})
	consumeSide := res.Side(consume.Name, "MB/s")
	res.Figure(benchtab.Figure{ID: "backup-zstd-vs-consume", Name: "backup --once, zstd, vs raw franz-go consume", Unit: "MB/s",
		Kbackup: res.Side(zstd.Name, "MB/s"), Peer: &consumeSide, Note: "the consume limit; issue 13 asks to approach it"})
}

// consumeAll reads topic from the start with a plain franz-go consumer until
// it has seen records records.
func consumeAll(addr, topic string, records int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxPartitionBytes(1<<20), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	for n := 0; n < records; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return err
		}
		n += fs.NumRecords()
	}
	return nil
}
