package inspect

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/kbackup/kbackup/store"
)

// CatOptions selects the records Cat writes.
type CatOptions struct {
	// Snapshot is "", "latest", "N" or "vN" (default: the active version).
	Snapshot string
	// Partitions limits the output to these partitions (default: all).
	Partitions []int32
	// FromOffset (inclusive) and UntilOffset (exclusive, -1: none) bound
	// the offsets of every partition.
	FromOffset, UntilOffset int64
	// FromTime (inclusive) and UntilTime (exclusive) bound record
	// timestamps; zero means unbounded.
	FromTime, UntilTime time.Time
	// Limit stops after this many records (0: no limit).
	Limit int64
	// Expired, if set, is told about segments retention deleted, which are
	// passed over.
	Expired func(partition int32, e *store.SegmentEntry)
}

// CatResult counts what Cat wrote.
type CatResult struct {
	Snapshot int
	Records  int64
}

// Cat writes the records of topic's snapshot that opts selects to w as
// JSON lines, partition by partition in offset order: the lines of the
// mount's records.jsonl with a "partition" field first. It reads storage
// only (the one read path, store.Walk).
func Cat(ctx context.Context, st *store.Store, topic string, opts CatOptions, w io.Writer) (*CatResult, error) {
	v, _, err := st.ResolveSnapshot(ctx, topic, opts.Snapshot)
	if err != nil {
		return nil, err
	}
	res := &CatResult{Snapshot: v}
	loc := store.Loc{Topic: topic, Version: v}
	ix, err := st.ReadIndex(ctx, loc)
	if store.IsNotFound(err) {
		return res, nil // a version without segments
	}
	if err != nil {
		return nil, fmt.Errorf("read index of %s: %w", loc, err)
	}
	parts := ix.PartitionIDs()
	if len(opts.Partitions) > 0 {
		for _, p := range opts.Partitions {
			if !slices.Contains(parts, p) {
				return nil, fmt.Errorf("snapshot %s has no records in partition %d (partitions with records: %v)", loc, p, parts)
			}
		}
		parts = opts.Partitions
	}
	from, until := opts.FromOffset, opts.UntilOffset
	tFrom, tUntil := opts.FromTime.UnixMilli(), opts.UntilTime.UnixMilli()
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	for _, p := range parts {
		entries := ix.Partition(p)
		err := st.Walk(ctx, loc, entries, store.Walk{
			From: from,
			Segment: func(e *store.SegmentEntry) bool {
				if until >= 0 && e.FirstOffset >= until {
					return false
				}
				if !opts.FromTime.IsZero() && e.MaxTimestamp.UnixMilli() < tFrom {
					return false
				}
				if !opts.UntilTime.IsZero() && e.MinTimestamp.UnixMilli() >= tUntil {
					return false
				}
				return true
			},
			Record: func(_ *store.SegmentEntry, r *store.Record) error {
				if until >= 0 && r.Offset >= until {
					return store.ErrStopWalk
				}
				ms := r.Timestamp.UnixMilli()
				if (!opts.FromTime.IsZero() && ms < tFrom) || (!opts.UntilTime.IsZero() && ms >= tUntil) {
					return nil
				}
				line = append(line[:0], `{"partition":`...)
				line = strconv.AppendInt(line, int64(p), 10)
				line = append(line, ',')
				line = store.AppendJSONLine(line, r)
				// AppendJSONLine starts with '{': drop it after our prefix.
				n := len(`{"partition":`) + len(strconv.Itoa(int(p))) + 1
				line = append(line[:n], line[n+1:]...)
				if _, err := bw.Write(line); err != nil {
					return err
				}
				res.Records++
				if opts.Limit > 0 && res.Records >= opts.Limit {
					return errLimit
				}
				return nil
			},
			Gone: func(e *store.SegmentEntry, err error) error {
				if !e.Expired(time.Now()) {
					return fmt.Errorf("segment %s of %s, partition %d, offsets %d-%d, is missing and has not expired (run kbackup verify): %w",
						e.ULID, loc, p, e.FirstOffset, e.LastOffset, err)
				}
				if opts.Expired != nil {
					opts.Expired(p, e)
				}
				return nil
			},
		})
		if errors.Is(err, errLimit) {
			break
		}
		if err != nil {
			bw.Flush()
			return res, err
		}
	}
	return res, bw.Flush()
}

// errLimit ends a Cat walk at its record limit.
var errLimit = errors.New("limit reached")
