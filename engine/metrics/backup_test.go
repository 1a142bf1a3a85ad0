package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/kbackup/kbackup/store"
)

// kafkaAt answers Poll with fixed end offsets and newest timestamps.
type kafkaAt struct {
	ends   map[string]map[int32]int64
	newest map[string]map[int32]time.Time
}

func (k kafkaAt) TopicEnds(context.Context, []string) (map[string]map[int32]int64, error) {
	return k.ends, nil
}

func (k kafkaAt) NewestTimestamps(context.Context, []string) (map[string]map[int32]time.Time, error) {
	return k.newest, nil
}

// feed runs one topic through the observer: two partitions, a segment
// stored on each, partition 1 behind Kafka by 5 records and 90 seconds.
func feed(m *Backup) {
	t0 := time.Unix(1_700_000_000, 0)
	m.Assigned([]string{"orders"})
	m.LeaseAcquired("orders", true)
	m.PartitionStarted("orders", 0, 0)
	m.PartitionStarted("orders", 1, 10)
	m.Consumed("orders", 0, 4, 400)
	m.Consumed("orders", 1, 6, 600)
	m.SegmentStored("orders", store.SegmentEntry{Partition: 0, NextOffset: 4, Records: 4, StoredBytes: 100, MaxTimestamp: t0})
	m.SegmentStored("orders", store.SegmentEntry{Partition: 1, NextOffset: 16, Records: 6, StoredBytes: 150, MaxTimestamp: t0})
	m.Poll(context.Background(), kafkaAt{
		ends:   map[string]map[int32]int64{"orders": {0: 4, 1: 21}},
		newest: map[string]map[int32]time.Time{"orders": {0: t0, 1: t0.Add(90 * time.Second)}},
	})
}

func TestBackupSeries(t *testing.T) {
	names := []string{"kbackup_backup_consumed_records_total", "kbackup_backup_stored_bytes_total",
		"kbackup_backup_consumer_lag_records", "kbackup_backup_rpo_seconds", "kbackup_backup_lease_takeovers_total"}
	for _, tc := range []struct {
		name   string
		labels bool
		golden string
	}{
		{"partition labels", true, `
kbackup_backup_consumed_records_total{partition="0",topic="orders"} 4
kbackup_backup_consumed_records_total{partition="1",topic="orders"} 6
kbackup_backup_consumer_lag_records{partition="0",topic="orders"} 0
kbackup_backup_consumer_lag_records{partition="1",topic="orders"} 5
kbackup_backup_lease_takeovers_total{topic="orders"} 1
kbackup_backup_rpo_seconds{partition="0",topic="orders"} 0
kbackup_backup_rpo_seconds{partition="1",topic="orders"} 90
kbackup_backup_stored_bytes_total{partition="0",topic="orders"} 100
kbackup_backup_stored_bytes_total{partition="1",topic="orders"} 150
`},
		{"per topic", false, `
kbackup_backup_consumed_records_total{topic="orders"} 10
kbackup_backup_consumer_lag_records{topic="orders"} 5
kbackup_backup_lease_takeovers_total{topic="orders"} 1
kbackup_backup_rpo_seconds{topic="orders"} 90
kbackup_backup_stored_bytes_total{topic="orders"} 250
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewBackup(Options{PartitionLabels: tc.labels})
			feed(m)
			got, err := testutil.CollectAndFormat(m.Collector(), expfmt.TypeTextPlain, names...)
			if err != nil {
				t.Fatal(err)
			}
			if g := samples(string(got)); g != strings.TrimSpace(tc.golden) {
				t.Fatalf("got\n%s\nwant\n%s", g, strings.TrimSpace(tc.golden))
			}
		})
	}
}

// samples drops the HELP and TYPE lines of an exposition.
func samples(text string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestBackupReadiness(t *testing.T) {
	m := NewBackup(Options{})
	h := Handler(NewRegistry(m.Collector()), m.Ready)
	code := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	steps := []struct {
		what string
		do   func()
		code int
		body string
	}{
		{"before discovery", func() {}, 503, "discovering topics"},
		{"discovered, no lease", func() { m.Assigned([]string{"a"}) }, 503, "a: lease not held"},
		{"lease, no partition", func() { m.LeaseAcquired("a", false) }, 503, "a: not consuming"},
		{"consuming", func() { m.PartitionStarted("a", 0, 0) }, 200, "ready"},
		{"lease lost", func() { m.LeaseEnded("a", true) }, 503, "a: lease lost"},
		{"taken again", func() { m.LeaseAcquired("a", true); m.PartitionStarted("a", 0, 0) }, 200, "ready"},
		{"stopping", m.Stopping, 503, "stopping"},
	}
	for _, s := range steps {
		s.do()
		c, body := code("/readyz")
		if c != s.code || !strings.Contains(body, s.body) {
			t.Fatalf("%s: /readyz %d %q, want %d %q", s.what, c, body, s.code, s.body)
		}
	}
	if c, _ := code("/healthz"); c != 200 {
		t.Fatalf("/healthz %d", c)
	}
	if c, body := code("/metrics"); c != 200 || !strings.Contains(body, `kbackup_backup_lease_lost_total{topic="a"} 1`) {
		t.Fatalf("/metrics %d:\n%s", c, body)
	}
}
