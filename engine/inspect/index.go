package inspect

import (
	"context"
	"fmt"
	"time"

	"github.com/kbackup/kbackup/store"
)

// SegmentView is one index entry as index show prints it.
type SegmentView struct {
	Partition      int32      `json:"partition" yaml:"partition"`
	Segment        string     `json:"segment" yaml:"segment"`
	StartOffset    int64      `json:"start_offset" yaml:"start_offset"`
	FirstOffset    int64      `json:"first_offset" yaml:"first_offset"`
	LastOffset     int64      `json:"last_offset" yaml:"last_offset"`
	NextOffset     int64      `json:"next_offset" yaml:"next_offset"`
	FirstTimestamp time.Time  `json:"first_timestamp" yaml:"first_timestamp"`
	LastTimestamp  time.Time  `json:"last_timestamp" yaml:"last_timestamp"`
	MinTimestamp   time.Time  `json:"min_timestamp" yaml:"min_timestamp"`
	MaxTimestamp   time.Time  `json:"max_timestamp" yaml:"max_timestamp"`
	Records        int64      `json:"records" yaml:"records"`
	StoredBytes    int64      `json:"stored_bytes" yaml:"stored_bytes"`
	DecodedBytes   int64      `json:"decoded_bytes" yaml:"decoded_bytes"`
	Codec          string     `json:"codec" yaml:"codec"`
	Checksum       string     `json:"checksum" yaml:"checksum"`
	Expires        *time.Time `json:"expires" yaml:"expires"`
	Expired        bool       `json:"expired" yaml:"expired"`
}

// IndexView is a snapshot's index as index show prints it.
type IndexView struct {
	Topic    string        `json:"topic" yaml:"topic"`
	Snapshot int           `json:"snapshot" yaml:"snapshot"`
	Records  int64         `json:"records" yaml:"records"`
	Stored   int64         `json:"stored_bytes" yaml:"stored_bytes"`
	Segments []SegmentView `json:"segments" yaml:"segments"`
}

// ShowIndex reads the index of topic's snapshot sel ("" or "latest" for the
// active one, "N" or "vN") and marks entries expired at now.
func ShowIndex(ctx context.Context, st *store.Store, topic, sel string, now time.Time) (*IndexView, error) {
	v, _, err := st.ResolveSnapshot(ctx, topic, sel)
	if err != nil {
		return nil, err
	}
	loc := store.Loc{Topic: topic, Version: v}
	iv := &IndexView{Topic: topic, Snapshot: v, Segments: []SegmentView{}}
	ix, err := st.ReadIndex(ctx, loc)
	if store.IsNotFound(err) {
		return iv, nil // a version no segment was written to yet
	}
	if err != nil {
		return nil, fmt.Errorf("read index of %s: %w", loc, err)
	}
	t := ix.Totals(now)
	iv.Records, iv.Stored = t.Records, t.StoredBytes
	for _, e := range ix.Segments {
		iv.Segments = append(iv.Segments, SegmentView{
			Partition: e.Partition, Segment: e.ULID,
			StartOffset: e.StartOffset, FirstOffset: e.FirstOffset, LastOffset: e.LastOffset, NextOffset: e.NextOffset,
			FirstTimestamp: e.FirstTimestamp.UTC(), LastTimestamp: e.LastTimestamp.UTC(),
			MinTimestamp: e.MinTimestamp.UTC(), MaxTimestamp: e.MaxTimestamp.UTC(),
			Records: e.Records, StoredBytes: e.StoredBytes, DecodedBytes: e.DecodedBytes,
			Codec: e.Codec, Checksum: e.Checksum, Expires: e.Expires, Expired: e.Expired(now),
		})
	}
	return iv, nil
}
