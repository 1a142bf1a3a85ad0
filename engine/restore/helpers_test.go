package restore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// env is an embedded cluster plus a file store, for restore tests.
type env struct {
	t    *testing.T
	ctx  context.Context
	addr string
	kcfg *kafka.Config
	st   *store.Store
	cl   *kgo.Client
	adm  *kadm.Client
	kc   *devcluster.Cluster
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c, err := devcluster.Start(devcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// TestRestoreResume takes 85 s alone under -race on 2 cores and
	// passed 120 s beside the other packages' tests: leave room.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	st := storetest.OpenTemp(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &env{t: t, ctx: ctx, addr: c.Addr(), kcfg: &kafka.Config{Brokers: []string{c.Addr()}}, st: st, cl: cl, adm: kadm.NewClient(cl), kc: c}
}

// slowProduce delays every produce request the cluster receives by d.
func (e *env) slowProduce(d time.Duration) {
	k := e.kc.Kfake()
	k.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		k.KeepControl()
		time.Sleep(d)
		return nil, nil, false
	})
}

func (e *env) createTopic(name string, parts int32, cfg map[string]string) {
	e.t.Helper()
	c := map[string]*string{}
	for k, v := range cfg {
		c[k] = &v
	}
	resp, err := e.adm.CreateTopic(e.ctx, parts, 1, c, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
}

func (e *env) produce(recs ...*kgo.Record) {
	e.t.Helper()
	if err := e.cl.ProduceSync(e.ctx, recs...).FirstErr(); err != nil {
		e.t.Fatalf("produce: %v", err)
	}
}

var base = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// seedDataset fills topic (3 partitions) with the foundation dataset: keys,
// null keys, empty values, tombstones, headers with null values, 1 MiB
// values, distinct timestamps, and a committed and an aborted transaction.
func (e *env) seedDataset(topic string) {
	e.t.Helper()
	e.createTopic(topic, 3, map[string]string{"max.message.bytes": "4194304"})
	var recs []*kgo.Record
	for i := 0; i < 600; i++ {
		r := &kgo.Record{Topic: topic, Partition: int32(i % 3), Timestamp: base.Add(time.Duration(i) * time.Second),
			Key: []byte("k" + strconv.Itoa(i)), Value: []byte(fmt.Sprintf("value-%d", i))}
		switch {
		case i%10 == 1:
			r.Key = nil
		case i%10 == 2:
			r.Value = nil // tombstone
		case i%10 == 3:
			r.Value = []byte{}
		case i%10 == 4:
			r.Headers = []kgo.RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "null", Value: nil}, {Key: "h1", Value: []byte("dup")}}
		}
		if i%200 == 150 {
			r.Value = bytes.Repeat([]byte{'x'}, 1<<20)
		}
		recs = append(recs, r)
	}
	e.produce(recs...)
	tx, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.TransactionalID("t-"+topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer tx.Close()
	for round, commit := range []bool{true, false, true} {
		if err := tx.BeginTransaction(); err != nil {
			e.t.Fatal(err)
		}
		for i := 0; i < 30; i++ {
			r := &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: []byte(fmt.Sprintf("tx%d-%d", round, i)),
				Value: []byte(fmt.Sprintf("commit=%t", commit)), Timestamp: base.Add(time.Hour + time.Duration(round*30+i)*time.Second)}
			if err := tx.ProduceSync(e.ctx, r).FirstErr(); err != nil {
				e.t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(e.ctx, kgo.TransactionEndTry(commit)); err != nil {
			e.t.Fatal(err)
		}
	}
	e.produce(&kgo.Record{Topic: topic, Partition: 0, Key: []byte("after-txn"), Value: []byte("last"), Timestamp: base.Add(2 * time.Hour)})
}

// backup runs a one-shot backup of topics.
func (e *env) backup(topics ...string) {
	e.t.Helper()
	if _, err := backup.Run(e.ctx, e.st, e.kcfg, backup.Options{Once: true, Topics: topics}); err != nil {
		e.t.Fatalf("backup: %v", err)
	}
}

func (e *env) restore(spec *Spec, opts Options) (*Result, error) {
	e.t.Helper()
	return Run(e.ctx, e.st, e.kcfg, spec, opts)
}

// mapping restores src into dst, creating it, and keeps every record
// although the test data is older than the target's default retention.
func mapping(src, dst string) *Spec {
	return &Spec{Spec: SpecBody{Config: Config{Topics: []TopicMapping{{Source: src, Target: dst}}, CreateTopics: true,
		Filters: Filters{Time: TimeFilters{Retention: ExtendTargetTopicRetention}}}}}
}

// rec is a record as compared between source and target.
type rec struct {
	Offset  int64
	Key     *string
	Value   *string
	Headers []string // key=value, value "<null>" for null
	TS      int64
}

func (r rec) same(o rec) string {
	if r.TS != o.TS || !eqp(r.Key, o.Key) || !eqp(r.Value, o.Value) || strings.Join(r.Headers, ",") != strings.Join(o.Headers, ",") {
		return fmt.Sprintf("source offset %d %s differs from %s", r.Offset, r.String(), o.String())
	}
	return ""
}

func (r rec) String() string {
	s := func(p *string) string {
		if p == nil {
			return "<null>"
		}
		if len(*p) > 40 {
			return fmt.Sprintf("%.20s…(%d)", *p, len(*p))
		}
		return strconv.Quote(*p)
	}
	return fmt.Sprintf("{key %s value %s headers %v ts %d}", s(r.Key), s(r.Value), r.Headers, r.TS)
}

func eqp(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func ptr(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// readAll reads every committed record of topic with franz-go, by partition.
func (e *env) readAll(topic string) map[int32][]rec {
	e.t.Helper()
	ends, err := e.adm.ListEndOffsets(e.ctx, topic)
	if err != nil || ends.Error() != nil {
		e.t.Fatalf("end offsets of %s: %v %v", topic, err, ends.Error())
	}
	out := map[int32][]rec{}
	offs := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		out[o.Partition] = nil
		if o.Offset > 0 {
			offs[o.Partition] = kgo.NewOffset().AtStart()
			want[o.Partition] = o.Offset
		}
	})
	if len(offs) == 0 {
		return out
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	pos := map[int32]int64{}
	for len(want) > 0 {
		fs := cl.PollFetches(e.ctx)
		if e.ctx.Err() != nil {
			e.t.Fatalf("reading %s timed out", topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			pos[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				var hs []string
				for _, h := range r.Headers {
					hs = append(hs, h.Key+"="+strOrNull(h.Value))
				}
				out[r.Partition] = append(out[r.Partition], rec{Offset: r.Offset, Key: ptr(r.Key), Value: ptr(r.Value), Headers: hs, TS: r.Timestamp.UnixMilli()})
			}
		})
		for p, w := range want {
			if pos[p] >= w {
				delete(want, p)
			}
		}
	}
	return out
}

func strOrNull(b []byte) string {
	if b == nil {
		return "<null>"
	}
	return string(b)
}

// kcatRead reads every partition of topic with Debian's kcat (-J) in one
// run, skipping the test when kcat is not installed.
func (e *env) kcatRead(topic string) map[int32][]rec {
	e.t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		e.t.Skip("kcat not installed: apt-get install -y kcat")
	}
	cmd := exec.CommandContext(e.ctx, "kcat", "-C", "-b", e.addr, "-t", topic,
		"-o", "beginning", "-e", "-J", "-q", "-X", "isolation.level=read_committed", "-X", "fetch.message.max.bytes=8388608")
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("kcat %s: %v: %s", topic, err, out)
	}
	recs := map[int32][]rec{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var m struct {
			Partition int32     `json:"partition"`
			Offset    int64     `json:"offset"`
			TS        int64     `json:"ts"`
			Key       *string   `json:"key"`
			Payload   *string   `json:"payload"`
			Headers   []*string `json:"headers"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			e.t.Fatalf("kcat line %q: %v", sc.Text(), err)
		}
		r := rec{Offset: m.Offset, Key: m.Key, Value: m.Payload, TS: m.TS}
		for i := 0; i+1 < len(m.Headers); i += 2 {
			v := "<null>"
			if m.Headers[i+1] != nil {
				v = *m.Headers[i+1]
			}
			r.Headers = append(r.Headers, *m.Headers[i]+"="+v)
		}
		recs[m.Partition] = append(recs[m.Partition], r)
	}
	return recs
}

// compare checks that got holds exactly want's records in order.
func compare(t *testing.T, what string, want, got []rec) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := want[i].same(got[i]); d != "" {
			t.Fatalf("%s: record %d: %s", what, i, d)
		}
	}
}

// endOffsets returns the sum of topic's end offsets (0 when it is missing).
func (e *env) endOffsets(topic string) int64 {
	e.t.Helper()
	ends, err := e.adm.ListEndOffsets(e.ctx, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		}
	})
	return n
}

func (e *env) topicExists(topic string) bool {
	td, err := e.adm.ListTopics(e.ctx, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	return td.Has(topic) && td[topic].Err == nil
}
