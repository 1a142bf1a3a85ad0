package inspect

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/kbackup/kbackup/store"
)

// EndOffsetter returns a live topic's end offsets; *kafka.Admin is one.
type EndOffsetter interface {
	EndOffsets(ctx context.Context, topic string) (map[int32]int64, error)
}

// PartitionDescription totals one partition of one snapshot.
type PartitionDescription struct {
	Partition    int32 `json:"partition" yaml:"partition"`
	Segments     int64 `json:"segments" yaml:"segments"`
	Records      int64 `json:"records" yaml:"records"`
	StoredBytes  int64 `json:"stored_bytes" yaml:"stored_bytes"`
	DecodedBytes int64 `json:"decoded_bytes" yaml:"decoded_bytes"`
	// ExpiredSegments and ExpiredRecords count what retention expired
	// (storage may no longer hold it); included in Segments and Records.
	ExpiredSegments int64  `json:"expired_segments" yaml:"expired_segments"`
	ExpiredRecords  int64  `json:"expired_records" yaml:"expired_records"`
	FirstOffset     int64  `json:"first_offset" yaml:"first_offset"`
	LastOffset      int64  `json:"last_offset" yaml:"last_offset"`
	NextOffset      int64  `json:"next_offset" yaml:"next_offset"`
	EndOffset       *int64 `json:"end_offset,omitempty" yaml:"end_offset,omitempty"`
	Lag             *int64 `json:"lag,omitempty" yaml:"lag,omitempty"`
}

// SnapshotDescription totals one snapshot. DecodedBytes is the size of the
// records decoded (as the mount shows them); Ratio is DecodedBytes/StoredBytes.
type SnapshotDescription struct {
	Version      int   `json:"version" yaml:"version"`
	Active       bool  `json:"active" yaml:"active"`
	Segments     int64 `json:"segments" yaml:"segments"`
	Records      int64 `json:"records" yaml:"records"`
	StoredBytes  int64 `json:"stored_bytes" yaml:"stored_bytes"`
	DecodedBytes int64 `json:"decoded_bytes" yaml:"decoded_bytes"`
	// ExpiredSegments and ExpiredRecords count what retention expired
	// (storage may no longer hold it); included in Segments and Records.
	ExpiredSegments int64                  `json:"expired_segments" yaml:"expired_segments"`
	ExpiredRecords  int64                  `json:"expired_records" yaml:"expired_records"`
	Ratio           float64                `json:"compression_ratio" yaml:"compression_ratio"`
	MinTime         *time.Time             `json:"min_timestamp" yaml:"min_timestamp"`
	MaxTime         *time.Time             `json:"max_timestamp" yaml:"max_timestamp"`
	Partitions      []PartitionDescription `json:"partitions" yaml:"partitions"`
	// Groups summarises the consumer-group captures (absent without any).
	Groups *GroupsDescription `json:"groups,omitempty" yaml:"groups,omitempty"`
}

// TopicDescription describes every snapshot of one topic. Lag is only
// computed for the active snapshot.
type TopicDescription struct {
	Topic  string `json:"topic" yaml:"topic"`
	Layout string `json:"layout" yaml:"layout"`
	// Retention is the retention policy in force ("" keeps forever).
	Retention string                `json:"retention" yaml:"retention"`
	Snapshots []SnapshotDescription `json:"snapshots" yaml:"snapshots"`
}

// Describe totals each snapshot of topic from its index, counting apart
// what retention expired (Retention is the policy in force). With live set it
// also reports, for the active snapshot, each partition's live end offset
// and lag (end offset minus the backup's next offset).
func Describe(ctx context.Context, st *store.Store, topic string, live EndOffsetter) (*TopicDescription, error) {
	ts, err := ListSnapshots(ctx, st, topic)
	if err != nil {
		return nil, err
	}
	td := &TopicDescription{Topic: topic, Layout: ts.Layout, Retention: ts.Retention, Snapshots: []SnapshotDescription{}}
	for _, s := range ts.Snapshots {
		sd, err := describeSnapshot(ctx, st, store.Loc{Topic: topic, Version: s.Version}, time.Now())
		if err != nil {
			return nil, err
		}
		sd.Active = s.Active
		sd.Groups = s.Groups
		if s.Active && live != nil {
			if err := addLag(ctx, live, topic, sd); err != nil {
				return nil, err
			}
		}
		td.Snapshots = append(td.Snapshots, *sd)
	}
	return td, nil
}

func describeSnapshot(ctx context.Context, st *store.Store, loc store.Loc, now time.Time) (*SnapshotDescription, error) {
	sd := &SnapshotDescription{Version: loc.Version, Partitions: []PartitionDescription{}}
	ix, err := st.ReadIndex(ctx, loc)
	if store.IsNotFound(err) {
		return sd, nil // a version without segments yet
	}
	if err != nil {
		return nil, fmt.Errorf("read index of %s: %w", loc, err)
	}
	for _, p := range ix.PartitionIDs() {
		t := ix.PartitionTotals(p, now)
		sd.Partitions = append(sd.Partitions, PartitionDescription{Partition: p, Segments: t.Segments, Records: t.Records,
			StoredBytes: t.StoredBytes, DecodedBytes: t.DecodedBytes, ExpiredSegments: t.ExpiredSegments, ExpiredRecords: t.ExpiredRecords,
			FirstOffset: t.FirstOffset, LastOffset: t.LastOffset, NextOffset: t.NextOffset})
	}
	t := ix.Totals(now)
	sd.Segments, sd.Records, sd.StoredBytes, sd.DecodedBytes = t.Segments, t.Records, t.StoredBytes, t.DecodedBytes
	sd.ExpiredSegments, sd.ExpiredRecords = t.ExpiredSegments, t.ExpiredRecords
	if t.Records > 0 {
		sd.MinTime, sd.MaxTime = utc(t.MinTimestamp), utc(t.MaxTimestamp)
	}
	if sd.StoredBytes > 0 {
		sd.Ratio = float64(int64(float64(sd.DecodedBytes)/float64(sd.StoredBytes)*100+0.5)) / 100
	}
	return sd, nil
}

func addLag(ctx context.Context, live EndOffsetter, topic string, sd *SnapshotDescription) error {
	ends, err := live.EndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("lag of %s: %w", topic, err)
	}
	have := map[int32]int{}
	for i, p := range sd.Partitions {
		have[p.Partition] = i
	}
	for p := range ends {
		if _, ok := have[p]; !ok {
			sd.Partitions = append(sd.Partitions, PartitionDescription{Partition: p})
			have[p] = len(sd.Partitions) - 1
		}
	}
	sortPartitions(sd.Partitions)
	for i := range sd.Partitions {
		pd := &sd.Partitions[i]
		end, ok := ends[pd.Partition]
		if !ok {
			continue
		}
		lag := max(end-pd.NextOffset, 0)
		pd.EndOffset, pd.Lag = &end, &lag
	}
	return nil
}

func sortPartitions(ps []PartitionDescription) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].Partition < ps[j].Partition })
}

func utc(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}
