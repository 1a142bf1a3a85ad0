package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbackup/kbackup/engine/backup"
)

var _ backup.GroupObserver = (*Backup)(nil)

// groupStats counts the consumer-group captures of a backup.
type groupStats struct {
	captures, failures int64
	groups             int64     // groups selected by the last capture
	last               time.Time // end of the last capture that did not fail
	seconds            float64   // duration of the last capture
}

// groupDescs are the consumer-group capture series.
type groupDescs struct{ captures, failures, groups, last, seconds *prometheus.Desc }

func newGroupDescs() groupDescs {
	return groupDescs{
		captures: desc("kbackup_backup_group_captures_total", "Consumer-group offset captures attempted.", nil),
		failures: desc("kbackup_backup_group_capture_failures_total", "Consumer-group offset captures that failed (coordinator or storage errors); the data backup goes on.", nil),
		groups:   desc("kbackup_backup_groups_captured", "Consumer groups selected by the last capture.", nil),
		last:     desc("kbackup_backup_group_capture_timestamp_seconds", "When the last successful consumer-group capture ended.", nil),
		seconds:  desc("kbackup_backup_group_capture_duration_seconds", "How long the last consumer-group capture took.", nil),
	}
}

// GroupsCaptured counts one capture of consumer-group offsets.
func (m *Backup) GroupsCaptured(groups, _ int, took time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := &m.groups
	g.captures++
	g.groups = int64(groups)
	g.seconds = took.Seconds()
	if err != nil {
		g.failures++
		return
	}
	g.last = m.now()
}

func (d groupDescs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.captures, d.failures, d.groups, d.last, d.seconds} {
		ch <- x
	}
}

// collect emits the capture series; m.mu is held.
func (d groupDescs) collect(ch chan<- prometheus.Metric, g *groupStats) {
	ch <- prometheus.MustNewConstMetric(d.captures, prometheus.CounterValue, float64(g.captures))
	ch <- prometheus.MustNewConstMetric(d.failures, prometheus.CounterValue, float64(g.failures))
	if g.captures > 0 {
		ch <- prometheus.MustNewConstMetric(d.groups, prometheus.GaugeValue, float64(g.groups))
		ch <- prometheus.MustNewConstMetric(d.seconds, prometheus.GaugeValue, g.seconds)
	}
	if !g.last.IsZero() {
		ch <- prometheus.MustNewConstMetric(d.last, prometheus.GaugeValue, float64(g.last.UnixMilli())/1e3)
	}
}
