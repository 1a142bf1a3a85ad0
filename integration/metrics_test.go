package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/store"
)

// holdLeaseEnv makes the test binary a process that takes a topic's lease
// in the storage KBACKUP_TEST_STORAGE, says "held" and waits to be killed.
const holdLeaseEnv = "KBACKUP_TEST_HOLD_LEASE"

func holdLease(topic string) {
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv("KBACKUP_TEST_STORAGE"))
	if err == nil {
		_, err = st.AcquireLease(ctx, topic, "lease-holder", time.Hour)
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("held")
	select {}
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape is one /metrics scrape.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, base string) scrape {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// values returns the samples of name whose labels include want, by their
// partition label (or "" without one).
func (s scrape) values(name string, want map[string]string) map[string]float64 {
	out := map[string]float64{}
	f := s[name]
	if f == nil {
		return out
	}
next:
	for _, m := range f.Metric {
		part := ""
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		for _, l := range m.Label {
			if l.GetName() == "partition" {
				part = l.GetValue()
			}
		}
		switch {
		case m.Counter != nil:
			out[part] = m.Counter.GetValue()
		case m.Gauge != nil:
			out[part] = m.Gauge.GetValue()
		}
	}
	return out
}

func (s scrape) sum(name string, want map[string]string) float64 {
	var n float64
	for _, v := range s.values(name, want) {
		n += v
	}
	return n
}

func produceAtTime(t *testing.T, addr, topic string, partitions int32, from, n int, ts time.Time) {
	t.Helper()
	cl := client(t, addr)
	var rs []*kgo.Record
	for i := from; i < from+n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Timestamp: ts, Value: []byte(fmt.Sprintf("value-%d", i))})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsAndHealth scrapes a running daemon: /readyz is 503 while
// another process holds the topic's lease, 200 once the daemon took it
// over and consumes, and 503 again when the lease is lost; the record
// counters equal the records produced, consumer lag and RPO move with
// records Kafka holds and storage does not yet, storage requests are
// counted, and the takeover and the loss are counted.
func TestMetricsAndHealth(t *testing.T) {
	c := startCluster(t)
	dir := t.TempDir()
	const topic, parts = "metered", 3
	lbl := map[string]string{"topic": topic}

	holder := exec.Command(os.Args[0], "-test.run", "^$")
	holder.Env = append(os.Environ(), holdLeaseEnv+"="+topic, "KBACKUP_TEST_STORAGE="+dir)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	line := make([]byte, 5)
	if _, err := io.ReadFull(out, line); err != nil || string(line) != "held\n" {
		t.Fatalf("lease holder: %q %v", line, err)
	}

	// A second topic keeps the daemon running once it lost the first.
	createTopic(t, c.Addr(), "other", 1, nil)
	addr := freeAddr(t)
	d, logs := startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir, "--topic", topic, "--topic", "other",
		"--metrics-addr", addr, "--metrics-interval", "200ms", "--discovery-interval", "300ms",
		"--segment-age", "6s", "--lease-ttl", "4s")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs)
		}
	})
	base := "http://" + addr
	waitFor(t, 20*time.Second, "/healthz 200", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// The first discovery must be over before the topic appears: a lease
	// held elsewhere at start is an error, later a wait.
	waitFor(t, 20*time.Second, "/readyz 200 with the other topic held", func() bool {
		code, _ := get(t, base+"/readyz")
		return code == 200
	})
	createTopic(t, c.Addr(), topic, parts, nil)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	produceAtTime(t, c.Addr(), topic, parts, 0, 300, t0)
	waitFor(t, 20*time.Second, "/readyz 503 while another process holds the lease", func() bool {
		code, body := get(t, base+"/readyz")
		return code == 503 && strings.Contains(body, topic+": lease not held")
	})
	// The holder dies: its lease is taken over at once (same machine).
	_ = holder.Process.Kill()
	_ = holder.Wait()
	waitFor(t, 20*time.Second, "/readyz 200 once the lease is taken over", func() bool {
		code, _ := get(t, base+"/readyz")
		return code == 200
	})
	var s scrape
	waitFor(t, 30*time.Second, "300 records stored, no lag, RPO 0", func() bool {
		s = scrapeMetrics(t, base)
		return s.sum("kbackup_backup_stored_records_total", lbl) == 300 &&
			len(s.values("kbackup_backup_rpo_seconds", lbl)) == parts && s.sum("kbackup_backup_rpo_seconds", lbl) == 0 &&
			len(s.values("kbackup_backup_consumer_lag_records", lbl)) == parts && s.sum("kbackup_backup_consumer_lag_records", lbl) == 0
	})
	for _, want := range []struct {
		name string
		val  float64
	}{
		{"kbackup_backup_consumed_records_total", 300},
		{"kbackup_backup_stored_offset", 300},
		{"kbackup_backup_end_offset", 300},
		{"kbackup_backup_lease_held", 1},
		{"kbackup_backup_lease_takeovers_total", 1},
		{"kbackup_backup_lease_lost_total", 0},
	} {
		if got := s.sum(want.name, lbl); got != want.val {
			t.Errorf("%s = %v, want %v", want.name, got, want.val)
		}
	}
	if n := s.sum("kbackup_backup_segments_uploaded_total", lbl); n < parts {
		t.Errorf("segments uploaded %v, want at least %d", n, parts)
	}
	payload := 0
	for i := range 300 {
		payload += len(fmt.Sprintf("value-%d", i))
	}
	if n := s.sum("kbackup_backup_consumed_bytes_total", lbl); n != float64(payload) {
		t.Errorf("consumed bytes %v, want %d", n, payload)
	}
	if n := s.sum("kbackup_storage_requests_total", map[string]string{"operation": "upload"}); n < parts {
		t.Errorf("storage upload requests %v, want at least %d", n, parts)
	}
	if v := s.sum("kbackup_backup_ready", nil); v != 1 {
		t.Errorf("kbackup_backup_ready = %v", v)
	}

	// Records five minutes newer arrive; until their segments roll,
	// Kafka is 30 records and 300 seconds ahead of storage.
	produceAtTime(t, c.Addr(), topic, parts, 300, 30, t0.Add(5*time.Minute))
	waitFor(t, 5*time.Second, "lag 30 and RPO 300s while the new records are unstored", func() bool {
		s = scrapeMetrics(t, base)
		rpo := s.values("kbackup_backup_rpo_seconds", lbl)
		return s.sum("kbackup_backup_consumer_lag_records", lbl) == 30 && rpo["0"] == 300 && rpo["1"] == 300 && rpo["2"] == 300
	})
	waitFor(t, 30*time.Second, "330 records stored, lag and RPO back to 0", func() bool {
		s = scrapeMetrics(t, base)
		return s.sum("kbackup_backup_stored_records_total", lbl) == 330 && s.sum("kbackup_backup_consumer_lag_records", lbl) == 0 &&
			s.sum("kbackup_backup_rpo_seconds", lbl) == 0
	})
	if got := s.sum("kbackup_backup_consumed_records_total", lbl); got != 330 {
		t.Errorf("consumed records %v, want 330", got)
	}

	// An operator breaks the lease: the daemon loses the topic.
	st := openStorage(t, dir)
	defer st.Close()
	if err := st.BreakLease(context.Background(), topic, "operator"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "/readyz 503 after the lease is lost", func() bool {
		code, body := get(t, base+"/readyz")
		return code == 503 && strings.Contains(body, topic+": lease lost")
	})
	s = scrapeMetrics(t, base)
	if s.sum("kbackup_backup_lease_lost_total", lbl) != 1 || s.sum("kbackup_backup_lease_held", lbl) != 0 || s.sum("kbackup_backup_ready", nil) != 0 {
		t.Errorf("after the loss: lost %v held %v ready %v", s.sum("kbackup_backup_lease_lost_total", lbl),
			s.sum("kbackup_backup_lease_held", lbl), s.sum("kbackup_backup_ready", nil))
	}
	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err == nil || d.ProcessState.ExitCode() != 3 {
		t.Fatalf("daemon that lost a lease exited %v, want 3\n%s", err, logs)
	}
}
