package browse

import (
	"bytes"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kbackup/kbackup/store"
)

func marshalYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("render yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// IndexDoc is the content of a snapshot's index file (YAML).
type IndexDoc struct {
	Topic      string                           `yaml:"topic"`
	Version    int                              `yaml:"version"`
	Partitions map[int32]store.PartitionSummary `yaml:"partitions"`
	Segments   []store.SegmentEntry             `yaml:"segments"`
}

func renderIndex(ix *store.Index) ([]byte, error) {
	return marshalYAML(&IndexDoc{Topic: ix.Loc.Topic, Version: ix.Loc.Version, Partitions: ix.Partitions, Segments: ix.Segments})
}

// SnapshotSummary is a snapshot's summary: the content of snapshot.yaml
// and what a listing shows of a snapshot. Totals count segments that hold
// records.
type SnapshotSummary struct {
	Topic        string             `yaml:"topic"`
	Version      int                `yaml:"version"`
	Layout       string             `yaml:"layout"`
	Active       bool               `yaml:"active"`
	TopicID      string             `yaml:"topic_id,omitempty"`
	Created      *time.Time         `yaml:"created,omitempty"`
	Archived     *time.Time         `yaml:"archived,omitempty"`
	Reason       string             `yaml:"reason,omitempty"`
	Records      int64              `yaml:"records"`
	StoredBytes  int64              `yaml:"stored_bytes"`
	DecodedBytes int64              `yaml:"decoded_bytes"`
	Segments     int                `yaml:"segments"`
	TimeRange    *TimeRange         `yaml:"time_range,omitempty"`
	Partitions   []PartitionSummary `yaml:"partitions"`
}

// TimeRange is the span of record timestamps.
type TimeRange struct {
	First time.Time `yaml:"first"`
	Last  time.Time `yaml:"last"`
}

// PartitionSummary is one partition of a SnapshotSummary.
type PartitionSummary struct {
	Partition    int32      `yaml:"partition"`
	FirstOffset  int64      `yaml:"first_offset"`
	LastOffset   int64      `yaml:"last_offset"`
	NextOffset   int64      `yaml:"next_offset"`
	Records      int64      `yaml:"records"`
	StoredBytes  int64      `yaml:"stored_bytes"`
	DecodedBytes int64      `yaml:"decoded_bytes"`
	Segments     int        `yaml:"segments"`
	TimeRange    *TimeRange `yaml:"time_range,omitempty"`
}

// summarize builds a snapshot's summary from its manifest entry and its
// index.
func summarize(s *store.Snapshot, active bool, ix *store.Index) *SnapshotSummary {
	d := &SnapshotSummary{
		Topic: ix.Loc.Topic, Version: s.Version, Layout: "snapshots", Active: active,
		TopicID: s.TopicID, Archived: s.Archived, Reason: s.Reason,
	}
	if s.Version == 0 {
		d.Layout = "flat"
	}
	if !s.Created.IsZero() {
		d.Created = &s.Created
	}
	for _, p := range partitionIDs(s, ix) {
		pd := PartitionSummary{Partition: p, FirstOffset: -1, LastOffset: -1}
		for _, e := range ix.Partition(p) {
			if e.Records == 0 {
				pd.NextOffset = max(pd.NextOffset, e.NextOffset)
				continue
			}
			if pd.Segments == 0 {
				pd.FirstOffset = e.FirstOffset
			}
			pd.Segments++
			pd.LastOffset = max(pd.LastOffset, e.LastOffset)
			pd.NextOffset = max(pd.NextOffset, e.NextOffset)
			pd.Records += e.Records
			pd.StoredBytes += e.StoredBytes
			pd.DecodedBytes += e.DecodedBytes
			pd.TimeRange = widen(pd.TimeRange, e.MinTimestamp, e.MaxTimestamp)
		}
		d.Records += pd.Records
		d.StoredBytes += pd.StoredBytes
		d.DecodedBytes += pd.DecodedBytes
		d.Segments += pd.Segments
		if pd.TimeRange != nil {
			d.TimeRange = widen(d.TimeRange, pd.TimeRange.First, pd.TimeRange.Last)
		}
		d.Partitions = append(d.Partitions, pd)
	}
	return d
}

func widen(r *TimeRange, first, last time.Time) *TimeRange {
	if r == nil {
		return &TimeRange{First: first, Last: last}
	}
	if first.Before(r.First) {
		r.First = first
	}
	if last.After(r.Last) {
		r.Last = last
	}
	return r
}

// partitionIDs returns the partitions of a snapshot: those the manifest
// counts and those the index has segments for, ascending.
func partitionIDs(s *store.Snapshot, ix *store.Index) []int32 {
	ids := ix.PartitionIDs()
	n := s.Partitions
	if len(ids) > 0 {
		n = max(n, ids[len(ids)-1]+1)
	}
	out := make([]int32, 0, n)
	seen := map[int32]bool{}
	for p := int32(0); p < s.Partitions; p++ {
		out = append(out, p)
		seen[p] = true
	}
	for _, p := range ids {
		if !seen[p] {
			out = append(out, p)
		}
	}
	return out
}
