package restore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/integration/benchtab"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
)

// restoreBench is the embedded cluster, the backup and the records of
// BenchmarkRestore.
type restoreBench struct {
	b       *testing.B
	ctx     context.Context
	addr    string
	kcfg    *kafka.Config
	st      *store.Store
	adm     *kadm.Client
	recs    []*kgo.Record
	payload int64
	seq     int
}

func newRestoreBench(b *testing.B, records int, parts int32) *restoreBench {
	b.Helper()
	c, err := devcluster.Start(devcluster.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	b.Cleanup(cancel)
	st, err := store.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	r := &restoreBench{b: b, ctx: ctx, addr: c.Addr(), kcfg: &kafka.Config{Brokers: []string{c.Addr()}}, st: st, adm: kadm.NewClient(cl)}
	r.create("bench", parts)
	for i := range records {
		rec := &kgo.Record{Topic: "bench", Partition: int32(i) % parts, Key: fmt.Appendf(nil, "key-%06d", i%50000),
			Value: fmt.Appendf(nil, "%0100d", i), Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
		r.recs = append(r.recs, rec)
		r.payload += int64(len(rec.Key) + len(rec.Value))
	}
	if err := cl.ProduceSync(ctx, r.recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	if _, err := backup.Run(ctx, st, r.kcfg, backup.Options{Once: true, Topics: []string{"bench"}}); err != nil {
		b.Fatal(err)
	}
	return r
}

// topic returns a new topic name for one run.
func (r *restoreBench) topic(prefix string) string {
	r.seq++
	return fmt.Sprintf("%s-%d", prefix, r.seq)
}

func (r *restoreBench) create(topic string, parts int32) {
	r.b.Helper()
	resp, err := r.adm.CreateTopic(r.ctx, parts, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		r.b.Fatalf("create %s: %v", topic, err)
	}
}

// done checks that topic holds every record, then deletes it so that every
// run starts from the same broker state.
func (r *restoreBench) done(topic string) error {
	ends, err := r.adm.ListEndOffsets(r.ctx, topic)
	if err != nil {
		return err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	if n != int64(len(r.recs)) {
		return fmt.Errorf("%s holds %d records, want %d", topic, n, len(r.recs))
	}
	_, err = r.adm.DeleteTopics(r.ctx, topic)
	return err
}

// BenchmarkRestore restores a backup of 200,000 small records and, against
// the same embedded broker, produces the same records with a plain franz-go
// producer and with `kcat -P`. Each contender warms up once uncounted, then
// they alternate; every run writes a new topic, checked and deleted after.
// Throughput is MB/s of keys and values.
//
//	go test ./engine/restore/ -run '^$' -bench Restore -benchtime 1x
func BenchmarkRestore(b *testing.B) {
	const records, parts = 200000, 3
	if _, err := exec.LookPath("kcat"); err != nil {
		b.Fatal("kcat is not installed (apt-get install -y kcat)")
	}
	r := newRestoreBench(b, records, parts)
	lines := filepath.Join(b.TempDir(), "records.txt")
	f, err := os.Create(lines)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for _, rec := range r.recs {
		fmt.Fprintf(w, "%s\t%s\n", rec.Key, rec.Value)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()

	restore := benchtab.Contender{
		Name:     "kbackup restore",
		Settings: "defaults: creates the topic, lz4 batches, linger 5 ms, acks all; reads file storage",
		Run: func(m *benchtab.Measure) error {
			dst := r.topic("restored")
			err := m.MBps("MB/s", r.payload, func() error {
				res, err := Run(r.ctx, r.st, r.kcfg, mapping("bench", dst), Options{})
				if err == nil && res.Produced != records {
					err = fmt.Errorf("restore produced %d records, want %d", res.Produced, records)
				}
				return err
			})
			if err != nil {
				return err
			}
			return r.done(dst)
		},
	}
	franz := benchtab.Contender{
		Name:     "franz-go producer",
		Settings: "defaults (snappy, linger 10 ms); from memory",
		Run: func(m *benchtab.Measure) error {
			dst := r.topic("franz")
			r.create(dst, parts)
			err := m.MBps("MB/s", r.payload, func() error {
				cl, err := kgo.NewClient(kgo.SeedBrokers(r.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
				if err != nil {
					return err
				}
				defer cl.Close()
				for _, rec := range r.recs {
					cl.Produce(r.ctx, &kgo.Record{Topic: dst, Partition: rec.Partition, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}, nil)
				}
				return cl.Flush(r.ctx)
			})
			if err != nil {
				return err
			}
			return r.done(dst)
		},
	}
	kcat := benchtab.Contender{
		Name:     "kcat -P",
		Settings: "defaults (no compression, linger 5 ms); lines from a file",
		Run: func(m *benchtab.Measure) error {
			dst := r.topic("kcat")
			r.create(dst, parts)
			err := m.MBps("MB/s", r.payload, func() error {
				out, err := exec.Command("kcat", "-P", "-b", r.addr, "-t", dst, "-K", "\t", "-l", lines).CombinedOutput()
				if err != nil {
					return fmt.Errorf("kcat -P: %w: %s", err, out)
				}
				return nil
			})
			if err != nil {
				return err
			}
			return r.done(dst)
		},
	}
	res := benchtab.Run(b, benchtab.Options{}, restore, kcat, franz)
	note := fmt.Sprintf("%d,%03d records of about 110 bytes, %d partitions, in-process kfake", records/1000, records%1000, parts)
	kcatSide, franzSide := res.Side(kcat.Name, "MB/s"), res.Side(franz.Name, "MB/s")
	res.Figure(benchtab.Figure{ID: "restore-vs-kcat", Name: "restore vs kcat -P", Unit: "MB/s",
		Kbackup: res.Side(restore.Name, "MB/s"), Peer: &kcatSide, Goal: benchtab.AtLeast(1, "issue 3"), Note: note})
	res.Figure(benchtab.Figure{ID: "restore-vs-franz", Name: "restore vs raw franz-go produce", Unit: "MB/s",
		Kbackup: res.Side(restore.Name, "MB/s"), Peer: &franzSide, Note: "the produce limit: no reading or decoding"})
}
