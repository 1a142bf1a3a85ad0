package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbackup/kbackup/engine/restore"
)

// Restore keeps a restore's metrics: Update takes the engine's status
// reports (restore.Options.OnStatus).
type Restore struct {
	opts Options

	mu     sync.Mutex
	status restore.Status
	seen   bool
	errors int64
}

// NewRestore returns the metrics of a restore.
func NewRestore(opts Options) *Restore { return &Restore{opts: opts} }

// Update takes a status report. A report that enters Failed or Invalid
// counts one error.
func (m *Restore) Update(s restore.Status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if (s.Phase == restore.Failed || s.Phase == restore.Invalid) && (!m.seen || m.status.Phase != s.Phase) {
		m.errors++
	}
	m.status, m.seen = s, true
}

// Ready returns nil unless the restore failed.
func (m *Restore) Ready() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.status.Phase == restore.Failed || m.status.Phase == restore.Invalid {
		return errorString(m.status.Phase.String() + ": " + m.status.Reason)
	}
	return nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// Collector returns the Prometheus collector of m's metrics.
func (m *Restore) Collector() prometheus.Collector {
	pl := []string{"source", "topic"}
	if m.opts.PartitionLabels {
		pl = append(pl, "partition")
	}
	return &restoreCollector{m: m,
		records:      desc("kbackup_restore_records_total", "Records restored, counting those an earlier run restored (resumed).", pl),
		bytes:        desc("kbackup_restore_bytes_total", "Decoded record bytes restored.", pl),
		recordsTotal: desc("kbackup_restore_planned_records", "Records the restore plans to produce (from the storage index).", pl),
		bytesTotal:   desc("kbackup_restore_planned_bytes", "Decoded record bytes the restore plans to produce.", pl),
		progress:     desc("kbackup_restore_progress_ratio", "Records restored over records planned, 0 to 1.", []string{"source", "topic"}),
		phase:        desc("kbackup_restore_phase", "1 for the restore's current phase (Initializing, Restoring, Done, Failed, Invalid).", []string{"phase"}),
		errors:       desc("kbackup_restore_errors_total", "Restores that ended Failed or Invalid.", nil),
	}
}

type restoreCollector struct {
	m                                                                 *Restore
	records, bytes, recordsTotal, bytesTotal, progress, phase, errors *prometheus.Desc
}

func (c *restoreCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.records, c.bytes, c.recordsTotal, c.bytesTotal, c.progress, c.phase, c.errors} {
		ch <- d
	}
}

func (c *restoreCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(m.errors))
	if !m.seen {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.phase, prometheus.GaugeValue, 1, m.status.Phase.String())
	for _, t := range m.status.Topics {
		ratio := 1.0
		if t.RecordsTotal > 0 {
			ratio = min(float64(t.Records)/float64(t.RecordsTotal), 1)
		}
		ch <- prometheus.MustNewConstMetric(c.progress, prometheus.GaugeValue, ratio, t.Source, t.Target)
		if !m.opts.PartitionLabels {
			c.emit(ch, t.Records, t.DecodedBytes, t.RecordsTotal, t.DecodedBytesTotal, t.Source, t.Target)
			continue
		}
		for _, p := range t.Partitions {
			c.emit(ch, p.Records, p.DecodedBytes, p.RecordsTotal, p.DecodedBytesTotal, t.Source, t.Target, strconv.Itoa(int(p.Partition)))
		}
	}
}

func (c *restoreCollector) emit(ch chan<- prometheus.Metric, records, bytes, recordsTotal, bytesTotal int64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(c.records, prometheus.CounterValue, float64(records), labels...)
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(bytes), labels...)
	ch <- prometheus.MustNewConstMetric(c.recordsTotal, prometheus.GaugeValue, float64(recordsTotal), labels...)
	ch <- prometheus.MustNewConstMetric(c.bytesTotal, prometheus.GaugeValue, float64(bytesTotal), labels...)
}
