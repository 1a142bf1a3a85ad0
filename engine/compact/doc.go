// Package compact merges small adjacent segments of a snapshot into larger
// ones, so that a partition rolled every minute ends in few objects.
// Compact is `kbackup index compact`, which takes the topic's lease; Held is
// the backup daemon's pass under the lease it holds, changing the index
// between its own commits (Indexer) and merging only balanced runs
// (Options.Fanout), so that compacting as data arrives rewrites each record
// a bounded number of times.
//
// # Steps and crash safety
//
// Compact takes the topic's lease and the index (store.OpenIndexWriter),
// then (Held skips step 1: the daemon's recovery at start does it):
//
//  1. deletes leftovers of an interrupted compaction: segments the index
//     does not name whose records indexed segments hold;
//  2. plans runs of adjacent segments of a partition (each one's start is
//     the previous one's next offset) that are small (under half the
//     target), not expired, and together at most the target size;
//  3. writes each run as one new segment through the one write path
//     (Store.CreateSegment … Commit), records in order, ending at the run's
//     next offset;
//  4. switches the index to the merged entries with one fenced head write
//     (Indexer.Replace), applied to the index as it is then: segments
//     committed since step 2 are kept, and a run retention expired
//     meanwhile is left unmerged (its new segment is deleted at once);
//  5. waits Options.Grace, so that readers that opened the old index (the
//     mount, a restore) can finish, then deletes the replaced segments.
//
// A kill at any moment leaves either the old index or the new one, each
// whole: before step 4 the new segments are unindexed duplicates of
// indexed records, after it the old ones are. The next Compact (step 1) or
// the next backup's orphan recovery deletes them; `kbackup index rebuild`
// skips them as overlapping. Readers never see a gap or a duplicate, and a
// reader whose segment was deleted after the grace gets an error wrapping
// store.ErrNotFound (EIO in the mount), never other bytes.
//
// # Expiry
//
// Segments that retention expired are never merged. A merged segment is
// expired by retention when its newest record is, so its oldest records
// are kept up to the span of one merged segment longer than they would
// have been.
package compact
