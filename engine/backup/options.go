package backup

import (
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/kbackup/kbackup/store"
)

// Options configures Run. The zero value of each field selects the
// documented default.
type Options struct {
	// Topics are regular expressions (anchored) of topics to back up;
	// empty means every non-internal topic.
	Topics []string
	// Exclude are regular expressions of topics to skip.
	Exclude []string
	// Once backs up to the end offsets seen at start, then returns.
	Once bool
	// Compression names the segment block codec: zstd (default), lz4,
	// snappy, gzip or none.
	Compression string
	// SegmentBytes rolls a segment at this size (default 64 MiB).
	SegmentBytes int64
	// SegmentAge rolls a segment this long after its first record (default 1m).
	SegmentAge time.Duration
	// BlockSize is the uncompressed block size (default 1 MiB).
	BlockSize int
	// LeaseTTL is how long a lease survives without renewal (default 2m).
	LeaseTTL time.Duration
	// Retention is the retention policy the daemon applies to every
	// snapshot of the topics it backs up: a segment is deleted once its
	// newest record is older than this (0: keep forever). It is recorded
	// in each topic's manifest, and applies to segments written before it
	// was set too.
	Retention time.Duration
	// RetentionInterval is how often the daemon runs a retention pass per
	// topic, at the first discovery after the interval has passed (default
	// 1m). The first pass runs when the topic is first seen.
	RetentionInterval time.Duration
	// CompactInterval is how often the daemon merges the small adjacent
	// segments of every snapshot of each topic it holds (compact.go),
	// first this long after it took the topic (default 1h).
	CompactInterval time.Duration
	// CompactGrace is how long replaced segments stay in storage after
	// the index stopped naming them, for readers that opened the old
	// index: the mount, a restore (default 10m; negative: none).
	CompactGrace time.Duration
	// NoCompact turns the daemon's compaction off.
	NoCompact bool
	// SnapshotEvery cuts a new snapshot version of every versioned topic
	// this long after the active one was created (0: only on recreation or
	// "snapshot create"). Checked at each discovery.
	SnapshotEvery time.Duration
	// Discovery is how often the daemon looks for new, deleted and recreated
	// topics (default 5s).
	Discovery time.Duration
	// SummaryInterval is how often the daemon logs, at info, what each
	// topic has stored so far and its lag (default 1m).
	SummaryInterval time.Duration
	// FlushTimeout bounds how long a stopping daemon keeps writing what it
	// holds once its context is cancelled (default 30s); what it does not
	// store is fetched again by the next run.
	FlushTimeout time.Duration
	// Groups are regular expressions (anchored) of the consumer groups
	// whose committed offsets on the backed-up topics are captured; empty
	// means every group.
	Groups []string
	// ExcludeGroups are regular expressions of groups not captured.
	ExcludeGroups []string
	// GroupInterval is how often the daemon captures the groups' committed
	// offsets (default 1m); a one-shot run captures them once, at its end.
	GroupInterval time.Duration
	// NoGroups turns consumer-group captures off.
	NoGroups bool
	// GroupID, if set, makes this process one member of a group of
	// daemons sharing the topics through Kafka's group protocol: it backs
	// up only the topics the group hands it (docs/scale.md).
	GroupID string
	// GroupSessionTimeout is how long the group coordinator waits for a
	// silent member before handing its topics to the others (default 10s).
	GroupSessionTimeout time.Duration
	// Holder names this process in leases (default host:pid).
	Holder string
	// Logger receives progress and warnings (default: discard).
	Logger *slog.Logger
	// Stats, if set, is updated live for progress displays.
	Stats *Stats
	// Observer, if set, learns about leases, consumption and stored
	// segments as they happen (metrics and health checks).
	Observer Observer
	// MaxMemory bounds the memory the backup's buffers take, whatever
	// the number of partitions (default DefaultMaxMemory, at least
	// MinMaxMemory): memory.go tells how it is divided. Segments past
	// their share spill to files in SpoolDir.
	MaxMemory int64
	// SpoolDir holds the files of spilled segments (default
	// os.TempDir()). They are unlinked when created; storage remains the
	// only source of truth.
	SpoolDir string

	codec store.Codec
}

// Observer learns what a backup does, for metrics and health checks. Its
// methods are called from several goroutines and must return quickly; the
// engine declares it so that it needs no metrics library.
type Observer interface {
	// Assigned names the topics a discovery pass found this process
	// should back up.
	Assigned(topics []string)
	// LeaseAcquired: this process took topic's lease; takeover tells that
	// it took it over from a holder that had not released it.
	LeaseAcquired(topic string, takeover bool)
	// LeaseEnded: this process no longer holds topic's lease, released on
	// purpose or lost.
	LeaseEnded(topic string, lost bool)
	// PartitionStarted: partition is consumed from next; storage holds
	// every offset below it.
	PartitionStarted(topic string, partition int32, next int64)
	// Consumed: records read from Kafka into an open segment, and their
	// payload bytes (keys, values, headers).
	Consumed(topic string, partition int32, records, bytes int64)
	// SegmentStored: segment e is stored and indexed.
	SegmentStored(topic string, e store.SegmentEntry)
}

// nopObserver is the Observer of a backup nobody observes.
type nopObserver struct{}

func (nopObserver) Assigned([]string)                        {}
func (nopObserver) LeaseAcquired(string, bool)               {}
func (nopObserver) LeaseEnded(string, bool)                  {}
func (nopObserver) PartitionStarted(string, int32, int64)    {}
func (nopObserver) Consumed(string, int32, int64, int64)     {}
func (nopObserver) SegmentStored(string, store.SegmentEntry) {}

// Stats are live counters of a running backup.
type Stats struct {
	Records atomic.Int64
	Bytes   atomic.Int64 // record payload bytes (keys, values, headers)
	Stored  atomic.Int64 // segment bytes written
}

func (o *Options) defaults() error {
	var err error
	if o.codec, err = store.ParseCodec(o.Compression); err != nil {
		return err
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	block := o.BlockSize
	if block <= 0 {
		block = store.DefaultBlockSize
	}
	if block > store.MaxBlockLen {
		return fmt.Errorf("block size %d is above the format's limit of %d bytes", block, store.MaxBlockLen)
	}
	if o.SegmentBytes/int64(block) >= store.MaxSegmentBlocks {
		return fmt.Errorf("segment size %d holds more than the format's %d blocks of %d bytes: use a smaller segment size", o.SegmentBytes, store.MaxSegmentBlocks, block)
	}
	if o.SegmentAge <= 0 {
		o.SegmentAge = time.Minute
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = store.DefaultLeaseTTL
	}
	if o.CompactInterval <= 0 {
		o.CompactInterval = time.Hour
	}
	if o.CompactGrace == 0 {
		o.CompactGrace = 10 * time.Minute
	}
	if o.RetentionInterval <= 0 {
		o.RetentionInterval = time.Minute
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = 30 * time.Second
	}
	if o.Discovery <= 0 {
		o.Discovery = 5 * time.Second
	}
	if o.GroupInterval <= 0 {
		o.GroupInterval = time.Minute
	}
	if o.SummaryInterval <= 0 {
		o.SummaryInterval = time.Minute
	}
	if err := o.checkGroupOptions(); err != nil {
		return err
	}
	if o.GroupSessionTimeout <= 0 {
		o.GroupSessionTimeout = 10 * time.Second
	}
	if o.Holder == "" {
		h, _ := os.Hostname()
		o.Holder = fmt.Sprintf("%s:%d", h, os.Getpid())
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stats == nil {
		o.Stats = &Stats{}
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return nil
}

// matcher selects topics by include and exclude patterns.
type matcher struct{ inc, exc []*regexp.Regexp }

func newMatcher(inc, exc []string) (*matcher, error) {
	m := &matcher{}
	for _, p := range inc {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, fmt.Errorf("include pattern %q is %w: %v", p, ErrBadPattern, err)
		}
		m.inc = append(m.inc, re)
	}
	for _, p := range exc {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, fmt.Errorf("exclude pattern %q is %w: %v", p, ErrBadPattern, err)
		}
		m.exc = append(m.exc, re)
	}
	return m, nil
}

func (m *matcher) match(topic string) bool {
	for _, re := range m.exc {
		if re.MatchString(topic) {
			return false
		}
	}
	if len(m.inc) == 0 {
		return len(topic) < 2 || topic[:2] != "__"
	}
	for _, re := range m.inc {
		if re.MatchString(topic) {
			return true
		}
	}
	return false
}
