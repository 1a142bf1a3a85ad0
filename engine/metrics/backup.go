package metrics

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/store"
)

// Options configures the metrics.
type Options struct {
	// PartitionLabels labels per-partition series with their partition.
	// Without it they are per topic: counters and lag are summed, the
	// recovery point is the worst partition's. Turn it off for clusters
	// with very many partitions.
	PartitionLabels bool
}

// Offsets is what Backup.Run asks Kafka: the read-committed end offset and
// the newest record timestamp of every partition of the topics given.
type Offsets interface {
	TopicEnds(ctx context.Context, topics []string) (map[string]map[int32]int64, error)
	NewestTimestamps(ctx context.Context, topics []string) (map[string]map[int32]time.Time, error)
}

// Backup keeps a backup daemon's metrics and readiness. Its methods are
// safe for concurrent use; the observer methods only update counters.
type Backup struct {
	opts Options
	now  func() time.Time

	mu         sync.Mutex
	topics     map[string]*topicState
	assigned   []string // the topics of the last discovery
	discovered bool     // a discovery finished
	stopping   bool
	pollErrors int64
	polled     time.Time // last successful poll of Kafka
	groups     groupStats
}

type topicState struct {
	held      bool
	takeovers int64
	lost      int64
	parts     map[int32]*partState
}

type partState struct {
	consuming                     bool
	consumed, consumedBytes       int64
	stored, storedBytes, segments int64
	next                          int64     // storage holds every offset below
	newest                        time.Time // newest record timestamp stored (zero: unknown)
	end                           int64     // Kafka's end offset; -1 unknown
	kafkaNewest                   time.Time // newest record timestamp in Kafka (zero: unknown or empty)
}

var _ backup.Observer = (*Backup)(nil)

// NewBackup returns the metrics of a backup daemon.
func NewBackup(opts Options) *Backup {
	return &Backup{opts: opts, now: time.Now, topics: map[string]*topicState{}}
}

func (m *Backup) topic(name string) *topicState {
	t := m.topics[name]
	if t == nil {
		t = &topicState{parts: map[int32]*partState{}}
		m.topics[name] = t
	}
	return t
}

func (m *Backup) part(topic string, p int32) *partState {
	t := m.topic(topic)
	s := t.parts[p]
	if s == nil {
		s = &partState{end: -1}
		t.parts[p] = s
	}
	return s
}

// Assigned records the topics a discovery pass found this process should
// back up.
func (m *Backup) Assigned(topics []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.assigned = append(m.assigned[:0], topics...)
	m.discovered = true
}

// LeaseAcquired records that this process took topic's lease; takeover
// tells that it took it over from another holder that had not released
// it.
func (m *Backup) LeaseAcquired(topic string, takeover bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.topic(topic)
	t.held = true
	if takeover {
		t.takeovers++
	}
}

// LeaseEnded records that this process no longer holds topic's lease:
// released on purpose, or lost (taken over or not renewed in time).
func (m *Backup) LeaseEnded(topic string, lost bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.topic(topic)
	t.held = false
	if lost {
		t.lost++
	}
	for _, p := range t.parts {
		p.consuming = false
	}
}

// PartitionStarted records that a partition is being consumed from next:
// storage holds every offset below it.
func (m *Backup) PartitionStarted(topic string, partition int32, next int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.part(topic, partition)
	if next < p.next {
		p.newest = time.Time{} // a new incarnation of the topic
	}
	p.consuming, p.next = true, next
}

// Consumed records records read from Kafka into an open segment, and their
// payload bytes (keys, values, headers).
func (m *Backup) Consumed(topic string, partition int32, records, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.part(topic, partition)
	p.consumed += records
	p.consumedBytes += bytes
}

// SegmentStored records a segment stored and indexed.
func (m *Backup) SegmentStored(topic string, e store.SegmentEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.part(topic, e.Partition)
	p.stored += e.Records
	p.storedBytes += e.StoredBytes
	p.segments++
	p.next = max(p.next, e.NextOffset)
	if e.MaxTimestamp.After(p.newest) {
		p.newest = e.MaxTimestamp
	}
}

// Stopping marks the daemon as shutting down: it is no longer ready.
func (m *Backup) Stopping() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopping = true
}

// Ready returns nil when the daemon is ready: a discovery has finished,
// and every topic it found holds its lease and consumes every partition.
// Otherwise the error says what is missing.
func (m *Backup) Ready() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.stopping:
		return fmt.Errorf("stopping")
	case !m.discovered:
		return fmt.Errorf("discovering topics")
	}
	var bad []string
	for _, name := range m.assigned {
		t := m.topics[name]
		switch {
		case t == nil || !t.held && t.lost == 0:
			bad = append(bad, name+": lease not held")
		case !t.held:
			bad = append(bad, name+": lease lost")
		case len(t.parts) == 0:
			bad = append(bad, name+": not consuming")
		default:
			for _, p := range t.parts {
				if !p.consuming {
					bad = append(bad, name+": not consuming")
					break
				}
			}
		}
	}
	if len(bad) > 0 {
		const show = 10
		if len(bad) > show {
			bad = append(bad[:show], fmt.Sprintf("and %d more", len(bad)-show))
		}
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// Run measures consumer lag and the recovery point against Kafka every
// interval until ctx is cancelled.
func (m *Backup) Run(ctx context.Context, k Offsets, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m.Poll(ctx, k)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll measures consumer lag and the recovery point against Kafka once.
func (m *Backup) Poll(ctx context.Context, k Offsets) {
	m.mu.Lock()
	var names []string
	for n, t := range m.topics {
		if t.held {
			names = append(names, n)
		}
	}
	m.mu.Unlock()
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	ends, err := k.TopicEnds(ctx, names)
	if err != nil {
		m.mu.Lock()
		m.pollErrors++
		m.mu.Unlock()
		return
	}
	// Without the newest timestamps (a broker before Kafka 3.0) the lag
	// is still known; the recovery point is not.
	newest, nerr := k.NewestTimestamps(ctx, names)
	m.mu.Lock()
	defer m.mu.Unlock()
	if nerr != nil {
		m.pollErrors++
	}
	for topic, ps := range ends {
		t := m.topics[topic]
		if t == nil {
			continue
		}
		for p, end := range ps {
			if s := t.parts[p]; s != nil {
				s.end = end
				s.kafkaNewest = newest[topic][p]
			}
		}
	}
	m.polled = m.now()
}

// lagRPO returns a partition's consumer lag and recovery point; ok is
// false while they are unknown.
func (p *partState) lagRPO() (lag int64, rpo float64, lagOK, rpoOK bool) {
	if p.end < 0 {
		return 0, 0, false, false
	}
	lag = max(p.end-p.next, 0)
	if lag == 0 {
		return 0, 0, true, true
	}
	if p.newest.IsZero() || p.kafkaNewest.IsZero() {
		return lag, 0, true, false
	}
	return lag, max(p.kafkaNewest.Sub(p.newest).Seconds(), 0), true, true
}

var (
	backupLabels = []string{"topic", "partition"}
	topicLabel   = []string{"topic"}
)

func desc(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// backupDescs are the per-partition series of Backup.
type backupDescs struct {
	consumed, consumedBytes, stored, storedBytes, segments *prometheus.Desc
	lag, rpo, end, next, newest                            *prometheus.Desc
	held, takeovers, lost, assigned, ready, pollErrors     *prometheus.Desc
	polled                                                 *prometheus.Desc
	groups                                                 groupDescs
}

func newBackupDescs(partitionLabels bool) backupDescs {
	pl := topicLabel
	if partitionLabels {
		pl = backupLabels
	}
	return backupDescs{
		consumed:      desc("kbackup_backup_consumed_records_total", "Records read from Kafka into open segments.", pl),
		consumedBytes: desc("kbackup_backup_consumed_bytes_total", "Payload bytes (keys, values, headers) read from Kafka into open segments.", pl),
		stored:        desc("kbackup_backup_stored_records_total", "Records in segments stored and indexed.", pl),
		storedBytes:   desc("kbackup_backup_stored_bytes_total", "Bytes of segments stored and indexed, as written (compressed).", pl),
		segments:      desc("kbackup_backup_segments_uploaded_total", "Segments stored and indexed.", pl),
		lag:           desc("kbackup_backup_consumer_lag_records", "Kafka's read-committed end offset minus the next offset storage holds (summed per topic without partition labels).", pl),
		rpo:           desc("kbackup_backup_rpo_seconds", "Recovery point: timestamp of the newest record in Kafka minus that of the newest record stored; 0 when storage holds everything (worst partition without partition labels).", pl),
		end:           desc("kbackup_backup_end_offset", "Kafka's read-committed end offset, as last measured (summed per topic without partition labels).", pl),
		next:          desc("kbackup_backup_stored_offset", "The next offset storage holds: every offset below it is stored (summed per topic without partition labels).", pl),
		newest:        desc("kbackup_backup_newest_stored_timestamp_seconds", "Timestamp of the newest record stored (newest partition without partition labels).", pl),
		held:          desc("kbackup_backup_lease_held", "1 while this process holds the topic's lease.", topicLabel),
		takeovers:     desc("kbackup_backup_lease_takeovers_total", "Leases this process took over from a holder that had not released them.", topicLabel),
		lost:          desc("kbackup_backup_lease_lost_total", "Leases this process lost (taken over or not renewed in time).", topicLabel),
		assigned:      desc("kbackup_backup_topics_assigned", "Topics the last discovery found this process should back up.", nil),
		ready:         desc("kbackup_backup_ready", "1 when every assigned topic holds its lease and is consuming (/readyz).", nil),
		pollErrors:    desc("kbackup_backup_offset_poll_errors_total", "Failed measurements of end offsets and newest timestamps in Kafka.", nil),
		polled:        desc("kbackup_backup_offset_poll_timestamp_seconds", "When end offsets and newest timestamps were last measured.", nil),
		groups:        newGroupDescs(),
	}
}

// Collector returns the Prometheus collector of m's metrics.
func (m *Backup) Collector() prometheus.Collector {
	return &backupCollector{m: m, d: newBackupDescs(m.opts.PartitionLabels)}
}

type backupCollector struct {
	m *Backup
	d backupDescs
}

func (c *backupCollector) Describe(ch chan<- *prometheus.Desc) {
	d := c.d
	for _, x := range []*prometheus.Desc{d.consumed, d.consumedBytes, d.stored, d.storedBytes, d.segments, d.lag, d.rpo,
		d.end, d.next, d.newest, d.held, d.takeovers, d.lost, d.assigned, d.ready, d.pollErrors, d.polled} {
		ch <- x
	}
	d.groups.describe(ch)
}

// sample is one partition's values, or a topic's aggregate.
type sample struct {
	consumed, consumedBytes, stored, storedBytes, segments float64
	lag, rpo, end, next, newest                            float64
	lagOK, rpoOK, endOK, newestOK                          bool
}

func (s *sample) add(p *partState) {
	s.consumed += float64(p.consumed)
	s.consumedBytes += float64(p.consumedBytes)
	s.stored += float64(p.stored)
	s.storedBytes += float64(p.storedBytes)
	s.segments += float64(p.segments)
	s.next += float64(p.next)
	lag, rpo, lagOK, rpoOK := p.lagRPO()
	if lagOK {
		s.lag += float64(lag)
		s.end += float64(p.end)
		s.lagOK, s.endOK = true, true
	}
	if rpoOK {
		s.rpo = max(s.rpo, rpo)
		s.rpoOK = true
	}
	if !p.newest.IsZero() {
		s.newest = max(s.newest, float64(p.newest.UnixMilli())/1e3)
		s.newestOK = true
	}
}

func (c *backupCollector) emit(ch chan<- prometheus.Metric, s *sample, labels ...string) {
	d := c.d
	ch <- prometheus.MustNewConstMetric(d.consumed, prometheus.CounterValue, s.consumed, labels...)
	ch <- prometheus.MustNewConstMetric(d.consumedBytes, prometheus.CounterValue, s.consumedBytes, labels...)
	ch <- prometheus.MustNewConstMetric(d.stored, prometheus.CounterValue, s.stored, labels...)
	ch <- prometheus.MustNewConstMetric(d.storedBytes, prometheus.CounterValue, s.storedBytes, labels...)
	ch <- prometheus.MustNewConstMetric(d.segments, prometheus.CounterValue, s.segments, labels...)
	ch <- prometheus.MustNewConstMetric(d.next, prometheus.GaugeValue, s.next, labels...)
	if s.lagOK {
		ch <- prometheus.MustNewConstMetric(d.lag, prometheus.GaugeValue, s.lag, labels...)
	}
	if s.endOK {
		ch <- prometheus.MustNewConstMetric(d.end, prometheus.GaugeValue, s.end, labels...)
	}
	if s.rpoOK {
		ch <- prometheus.MustNewConstMetric(d.rpo, prometheus.GaugeValue, s.rpo, labels...)
	}
	if s.newestOK {
		ch <- prometheus.MustNewConstMetric(d.newest, prometheus.GaugeValue, s.newest, labels...)
	}
}

func (c *backupCollector) Collect(ch chan<- prometheus.Metric) {
	ready := 0.0
	if c.m.Ready() == nil {
		ready = 1
	}
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	d := c.d
	for name, t := range m.topics {
		held := 0.0
		if t.held {
			held = 1
		}
		ch <- prometheus.MustNewConstMetric(d.held, prometheus.GaugeValue, held, name)
		ch <- prometheus.MustNewConstMetric(d.takeovers, prometheus.CounterValue, float64(t.takeovers), name)
		ch <- prometheus.MustNewConstMetric(d.lost, prometheus.CounterValue, float64(t.lost), name)
		if !m.opts.PartitionLabels {
			var s sample
			for _, p := range t.parts {
				s.add(p)
			}
			c.emit(ch, &s, name)
			continue
		}
		for id, p := range t.parts {
			var s sample
			s.add(p)
			c.emit(ch, &s, name, strconv.Itoa(int(id)))
		}
	}
	ch <- prometheus.MustNewConstMetric(d.assigned, prometheus.GaugeValue, float64(len(m.assigned)))
	ch <- prometheus.MustNewConstMetric(d.ready, prometheus.GaugeValue, ready)
	ch <- prometheus.MustNewConstMetric(d.pollErrors, prometheus.CounterValue, float64(m.pollErrors))
	if !m.polled.IsZero() {
		ch <- prometheus.MustNewConstMetric(d.polled, prometheus.GaugeValue, float64(m.polled.UnixMilli())/1e3)
	}
	d.groups.collect(ch, &m.groups)
}
