package browse

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// RestoreStatus is a restore as restore/<name>/status shows it. The
// Restorer reports it typed; Render is the one renderer of status files,
// for restores the Restorer runs and for copies it does not know yet.
type RestoreStatus struct {
	Name   string
	Phase  string // Ready, Initializing, Restoring, Done, Failed, Invalid
	Reason string
	// Started is when it was asked for, Finished when it ended; zero
	// when unknown or still running.
	Started, Finished time.Time
	// Produced counts the records produced, once done.
	Produced *int64
	Topics   []TopicStatus
}

// TopicStatus is one topic of a restore: totals and progress in records
// and decoded bytes.
type TopicStatus struct {
	Source                string
	Snapshot              int
	Target                string
	Phase                 string
	Created               bool
	Records, RecordsTotal int64
	// DecodedBytes, DecodedBytesTotal are decoded bytes (docs/cli.md,
	// "Byte counts").
	DecodedBytes, DecodedBytesTotal int64
	ExpiredRecords                  int64
	Retention                       *RetentionStatus
	// ConsumerGroups says in one line what the restore did with consumer
	// groups ("" when it did nothing).
	ConsumerGroups string
	Partitions     []PartitionStatus
}

// RetentionStatus is what preflight found about the target's retention,
// shown when it concerns the restore.
type RetentionStatus struct {
	Policy      string
	RetentionMs int64
	Cutoff      *time.Time
	Older       int64
	Skipped     int64
	OverBytes   []int32
	Extended    map[string]string
}

// PartitionStatus is one partition's progress.
type PartitionStatus struct {
	Partition             int32
	Records, RecordsTotal int64
	Resumed               int64
	Expired               []ExpiredSpan
}

// ExpiredSpan is a span of records the backup's retention deleted.
type ExpiredSpan struct {
	FirstOffset, LastOffset    int64
	MinTimestamp, MaxTimestamp time.Time
	Records                    int64
}

// statusDoc is the YAML shape of a status file.
type statusDoc struct {
	Restore  string     `yaml:"restore"`
	Phase    string     `yaml:"phase"`
	Reason   string     `yaml:"reason,omitempty"`
	Started  string     `yaml:"started,omitempty"`
	Finished string     `yaml:"finished,omitempty"`
	Produced *int64     `yaml:"produced,omitempty"`
	Topics   []topicDoc `yaml:"topics,omitempty"`
}

type topicDoc struct {
	Source     string         `yaml:"source"`
	Snapshot   string         `yaml:"snapshot"`
	Target     string         `yaml:"target"`
	Phase      string         `yaml:"phase"`
	Created    bool           `yaml:"created,omitempty"`
	Records    string         `yaml:"records"`
	Decoded    string         `yaml:"decoded_bytes"`
	Expired    int64          `yaml:"expired_records,omitempty"`
	Retention  *retentionDoc  `yaml:"retention,omitempty"`
	Groups     string         `yaml:"consumer_groups,omitempty"`
	Partitions []partitionDoc `yaml:"partitions,omitempty"`
}

type retentionDoc struct {
	Policy      string            `yaml:"policy,omitempty"`
	RetentionMs int64             `yaml:"target_retention_ms"`
	Cutoff      string            `yaml:"cutoff,omitempty"`
	Older       int64             `yaml:"older_records"`
	Skipped     int64             `yaml:"skipped_records,omitempty"`
	OverBytes   []int32           `yaml:"partitions_over_retention_bytes,omitempty"`
	Extended    map[string]string `yaml:"extended,omitempty"`
}

type partitionDoc struct {
	Partition int32        `yaml:"partition"`
	Records   string       `yaml:"records"`
	Resumed   int64        `yaml:"resumed,omitempty"`
	Expired   []expiredDoc `yaml:"expired,omitempty"`
}

type expiredDoc struct {
	Offsets string `yaml:"offsets"`
	Times   string `yaml:"times"`
	Records int64  `yaml:"records"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Render renders the status file: YAML, so that any name or reason is
// quoted as needed and cannot forge a field.
func (s *RestoreStatus) Render() []byte {
	d := statusDoc{Restore: s.Name, Phase: s.Phase, Reason: s.Reason, Started: rfc3339(s.Started), Finished: rfc3339(s.Finished), Produced: s.Produced}
	of := func(n, total int64) string { return fmt.Sprintf("%d of %d", n, total) }
	for _, t := range s.Topics {
		td := topicDoc{Source: t.Source, Snapshot: "v" + fmt.Sprint(t.Snapshot), Target: t.Target, Phase: t.Phase, Created: t.Created,
			Records: of(t.Records, t.RecordsTotal), Decoded: of(t.DecodedBytes, t.DecodedBytesTotal), Expired: t.ExpiredRecords, Groups: t.ConsumerGroups}
		if r := t.Retention; r != nil {
			rd := &retentionDoc{Policy: r.Policy, RetentionMs: r.RetentionMs, Older: r.Older, Skipped: r.Skipped, OverBytes: r.OverBytes, Extended: r.Extended}
			if r.Cutoff != nil {
				rd.Cutoff = rfc3339(*r.Cutoff)
			}
			td.Retention = rd
		}
		for _, p := range t.Partitions {
			pd := partitionDoc{Partition: p.Partition, Records: of(p.Records, p.RecordsTotal), Resumed: p.Resumed}
			for _, e := range p.Expired {
				pd.Expired = append(pd.Expired, expiredDoc{Offsets: fmt.Sprintf("%d-%d", e.FirstOffset, e.LastOffset),
					Times: e.MinTimestamp.UTC().Format(time.RFC3339Nano) + "/" + e.MaxTimestamp.UTC().Format(time.RFC3339Nano), Records: e.Records})
			}
			td.Partitions = append(td.Partitions, pd)
		}
		d.Topics = append(d.Topics, td)
	}
	b, err := yaml.Marshal(&d)
	if err != nil { // cannot happen with these types
		return []byte("phase: " + d.Phase + "\nreason: " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n")
	}
	return b
}
