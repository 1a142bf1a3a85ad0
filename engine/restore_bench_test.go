package engine

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkRestore restores a backup of benchRecords small records and, in
// the same run against the same embedded broker, produces the same records
// with a plain franz-go producer and with `kcat -P` (when installed). It
// reports records/s and MB/s of each and the ratio of restore to each peer.
//
//	go test ./engine/ -run '^$' -bench Restore -benchtime 3x
func BenchmarkRestore(b *testing.B) {
	const benchRecords, parts = 200000, 3
	t := &testing.T{}
	e := newEnv(t)
	e.t = t
	e.createTopic("bench", parts, nil)
	var recs []*kgo.Record
	var payload int64
	for i := 0; i < benchRecords; i++ {
		r := &kgo.Record{Topic: "bench", Partition: int32(i % parts), Key: []byte(fmt.Sprintf("key-%06d", i%50000)),
			Value: []byte(fmt.Sprintf("%0100d", i)), Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
		recs = append(recs, r)
		payload += int64(len(r.Key) + len(r.Value))
	}
	e.produce(recs...)
	e.backup("bench")
	lines := filepath.Join(b.TempDir(), "records.txt")
	f, err := os.Create(lines)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for _, r := range recs {
		fmt.Fprintf(w, "%s\t%s\n", r.Key, r.Value)
	}
	w.Flush()
	f.Close()
	_, kcatErr := exec.LookPath("kcat")

	var tRestore, tFranz, tKcat time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst := fmt.Sprintf("restored-%d", i)
		start := time.Now()
		res, err := Restore(e.ctx, e.st, e.kcfg, mapping("bench", dst), RestoreOptions{})
		if err != nil || res.Produced != benchRecords {
			b.Fatalf("restore: %v (%d records)", err, res.Produced)
		}
		tRestore += time.Since(start)

		plain := fmt.Sprintf("plain-%d", i)
		e.createTopic(plain, parts, nil)
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		for _, r := range recs {
			cl.Produce(e.ctx, &kgo.Record{Topic: plain, Partition: r.Partition, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}, nil)
		}
		if err := cl.Flush(e.ctx); err != nil {
			b.Fatal(err)
		}
		tFranz += time.Since(start)
		cl.Close()

		if kcatErr == nil {
			kt := fmt.Sprintf("kcat-%d", i)
			e.createTopic(kt, parts, nil)
			start = time.Now()
			out, err := exec.Command("kcat", "-P", "-b", e.addr, "-t", kt, "-K", "\t", "-l", lines).CombinedOutput()
			if err != nil {
				b.Fatalf("kcat -P: %v %s", err, out)
			}
			tKcat += time.Since(start)
			if n := e.endOffsets(kt); n != benchRecords {
				b.Fatalf("kcat produced %d records", n)
			}
		}
	}
	b.StopTimer()
	report := func(name string, d time.Duration) float64 {
		secs := d.Seconds() / float64(b.N)
		b.ReportMetric(benchRecords/secs, name+"_rec/s")
		b.ReportMetric(float64(payload)/1e6/secs, name+"_MB/s")
		return secs
	}
	rs := report("restore", tRestore)
	b.ReportMetric(report("franz", tFranz)/rs, "restore/franz")
	if kcatErr == nil {
		b.ReportMetric(report("kcat", tKcat)/rs, "restore/kcat")
	}
}
