package restore

import (
	"fmt"
	"log/slog"
	"time"
)

// Phase is a restore's place in the status lifecycle of Kannika Armory's
// Restore resource, which kbackup's restores follow (docs/restore.md,
// "Status").
type Phase int

// Phases, in lifecycle order; Failed and Invalid are terminal like Done.
const (
	Ready Phase = iota
	Initializing
	Restoring
	Done
	Failed
	Invalid
)

var phaseNames = [...]string{"Ready", "Initializing", "Restoring", "Done", "Failed", "Invalid"}

// String returns the phase's name as the Restore resource's status writes
// it.
func (p Phase) String() string {
	if p < 0 || int(p) >= len(phaseNames) {
		return fmt.Sprintf("Phase(%d)", int(p))
	}
	return phaseNames[p]
}

// MarshalText renders the phase's name (JSON summaries).
func (p Phase) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a phase's name.
func (p *Phase) UnmarshalText(b []byte) error {
	for i, n := range phaseNames {
		if n == string(b) {
			*p = Phase(i)
			return nil
		}
	}
	return fmt.Errorf("unknown restore phase %q", b)
}

// Options configures Run.
type Options struct {
	// Logger receives progress and warnings (default: discard).
	Logger *slog.Logger
	// OnStatus, if set, is called on every phase change and every
	// StatusInterval while restoring, from one goroutine at a time. It must
	// not block for long.
	OnStatus func(Status)
	// StatusInterval is how often OnStatus sees progress (default 1s).
	StatusInterval time.Duration
	// Now is the clock that decides which segments expired and which
	// records the target's retention would delete (default time.Now).
	Now func() time.Time
	// LockDir holds the locks that keep two restores on this machine
	// from writing into one target (default DefaultLockDir()).
	LockDir string
	// StateDir holds the restores' offset maps and consumer-group commits,
	// one file per target topic (default DefaultStateDir()).
	StateDir string
	// DryRun plans every topic and runs the preflight checks, then stops:
	// nothing is created or produced. The result (phase Ready) holds the
	// plan: per partition, the records and bytes that would be restored.
	DryRun bool

	// bufferBytes replaces producerBuffer (tests: an interrupted restore
	// sends what it buffered before it stops).
	bufferBytes int
}

// Status is a restore's status: its phase, the reason of a failure
// and per-topic progress.
type Status struct {
	Phase  Phase         `json:"phase"`
	Reason string        `json:"reason,omitempty"`
	Topics []TopicStatus `json:"topics,omitempty"`
}

// TopicStatus is one topic's progress. Totals come from the storage index
// before anything is produced; when a time window cuts through a segment
// they are an upper bound, and they are set to the exact count once the
// topic is done.
type TopicStatus struct {
	Source       string `json:"source"`
	Target       string `json:"target"`
	Snapshot     int    `json:"snapshot"`
	Phase        Phase  `json:"phase"`
	Created      bool   `json:"created,omitempty"`
	Records      int64  `json:"records"`
	RecordsTotal int64  `json:"records_total"`
	// DecodedBytes and DecodedBytesTotal are decoded bytes
	// (docs/cli.md, "Byte counts"): the records as the mount's
	// records.jsonl shows them, the unit of the storage index.
	DecodedBytes      int64 `json:"decoded_bytes"`
	DecodedBytesTotal int64 `json:"decoded_bytes_total"`
	// ExpiredRecords counts the records of the partitions' Expired spans.
	ExpiredRecords int64 `json:"expired_records,omitempty"`
	// Retention is what preflight found about the target's retention.
	Retention *RetentionReport `json:"retention,omitempty"`
	// Groups is what the restore did with consumer groups, once done.
	Groups     *GroupsReport     `json:"groups,omitempty"`
	Partitions []PartitionStatus `json:"partitions"`
}

// PartitionStatus is one partition's progress. Resumed counts the records
// found already restored by an earlier run (included in Records). Expired
// are the spans of records the backup's retention deleted from storage
// (not restored, not in the totals), found when planning or, for segments
// deleted during the restore, when reading them.
type PartitionStatus struct {
	Partition         int32         `json:"partition"`
	Records           int64         `json:"records"`
	RecordsTotal      int64         `json:"records_total"`
	DecodedBytes      int64         `json:"decoded_bytes"`
	DecodedBytesTotal int64         `json:"decoded_bytes_total"`
	Resumed           int64         `json:"resumed,omitempty"`
	Expired           []ExpiredSpan `json:"expired,omitempty"`
}

// Result is the outcome of Run: the final status plus totals.
// Produced counts records produced by this run (excluding resumed ones);
// PayloadBytes are their payload bytes: keys, values and headers
// (docs/cli.md, "Byte counts").
type Result struct {
	Status
	Produced     int64         `json:"produced"`
	PayloadBytes int64         `json:"payload_bytes"`
	Duration     time.Duration `json:"duration_ns"`
}
