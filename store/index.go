package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"
)

// sealEvery is how many entries the index head holds before they are moved
// into an immutable part.
const sealEvery = 1000

// SegmentEntry is the index's description of one segment.
type SegmentEntry struct {
	ULID           string     `yaml:"ulid"`
	Partition      int32      `yaml:"partition"`
	StartOffset    int64      `yaml:"start_offset"`
	FirstOffset    int64      `yaml:"first_offset"`
	LastOffset     int64      `yaml:"last_offset"`
	NextOffset     int64      `yaml:"next_offset"`
	FirstTimestamp time.Time  `yaml:"first_timestamp"`
	LastTimestamp  time.Time  `yaml:"last_timestamp"`
	MinTimestamp   time.Time  `yaml:"min_timestamp"`
	MaxTimestamp   time.Time  `yaml:"max_timestamp"`
	Records        int64      `yaml:"records"`
	StoredBytes    int64      `yaml:"stored_bytes"`
	DecodedBytes   int64      `yaml:"decoded_bytes"`
	Codec          string     `yaml:"codec"`
	Checksum       string     `yaml:"checksum"`
	Expires        *time.Time `yaml:"expires,omitempty"`
}

// Expired reports whether retention may have deleted the segment at now.
func (e *SegmentEntry) Expired(now time.Time) bool {
	return e.Expires != nil && !now.Before(*e.Expires)
}

// EntryFromInfo builds an index entry from a segment's footer.
func EntryFromInfo(id string, si *SegmentInfo, size int64, crc uint32) SegmentEntry {
	return SegmentEntry{
		ULID: id, Partition: si.Partition,
		StartOffset: si.StartOffset, FirstOffset: si.FirstOffset,
		LastOffset: si.LastOffset, NextOffset: si.NextOffset,
		FirstTimestamp: msTime(si.FirstTimestamp), LastTimestamp: msTime(si.LastTimestamp),
		MinTimestamp: msTime(si.MinTimestamp), MaxTimestamp: msTime(si.MaxTimestamp),
		Records: si.Records, StoredBytes: size, DecodedBytes: si.DecodedBytes,
		Codec: si.Codec.String(), Checksum: fmt.Sprintf("crc32c:%08x", crc),
	}
}

// PartitionSummary totals one partition's segments.
type PartitionSummary struct {
	Segments     int64 `yaml:"segments"`
	Records      int64 `yaml:"records"`
	StoredBytes  int64 `yaml:"stored_bytes"`
	DecodedBytes int64 `yaml:"decoded_bytes"`
	FirstOffset  int64 `yaml:"first_offset"`
	LastOffset   int64 `yaml:"last_offset"`
	NextOffset   int64 `yaml:"next_offset"`
}

func (p *PartitionSummary) add(e *SegmentEntry) {
	if p.Segments == 0 {
		p.FirstOffset = e.FirstOffset
	}
	p.Segments++
	p.Records += e.Records
	p.StoredBytes += e.StoredBytes
	p.DecodedBytes += e.DecodedBytes
	p.LastOffset = max(p.LastOffset, e.LastOffset)
	p.NextOffset = max(p.NextOffset, e.NextOffset)
}

// indexHead is the index object: summaries, the count of sealed parts and the
// entries not yet sealed.
type indexHead struct {
	Format     int                        `yaml:"format"`
	Topic      string                     `yaml:"topic"`
	Version    int                        `yaml:"version"`
	Sealed     int                        `yaml:"sealed_parts"`
	Epoch      string                     `yaml:"epoch,omitempty"` // changes when the parts are rewritten (rebuild)
	Partitions map[int32]PartitionSummary `yaml:"partitions"`
	Segments   []SegmentEntry             `yaml:"segments"`
}

type indexPart struct {
	Format   int            `yaml:"format"`
	Segments []SegmentEntry `yaml:"segments"`
}

// Index is a snapshot's complete index.
type Index struct {
	Loc        Loc
	Partitions map[int32]PartitionSummary
	// Segments are ordered by partition, then offset.
	Segments []SegmentEntry

	epoch  string         // head epoch the sealed parts belong to
	sealed []SegmentEntry // entries of the sealed parts, in part order
	nparts int
}

// Partition returns the entries of partition p in offset order.
func (ix *Index) Partition(p int32) []SegmentEntry {
	lo := sort.Search(len(ix.Segments), func(i int) bool { return ix.Segments[i].Partition >= p })
	hi := sort.Search(len(ix.Segments), func(i int) bool { return ix.Segments[i].Partition > p })
	return ix.Segments[lo:hi]
}

// PartitionIDs returns the partitions that have segments, ascending.
func (ix *Index) PartitionIDs() []int32 {
	var ps []int32
	for p := range ix.Partitions {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func (s *Store) readHead(ctx context.Context, loc Loc) (*indexHead, error) {
	b, err := s.read(ctx, loc.indexKey())
	if err != nil {
		return nil, err
	}
	var h indexHead
	if err := yaml.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%w: index of %s: %v", ErrCorrupt, loc, err)
	}
	if h.Format > FormatVersion {
		return nil, fmt.Errorf("index of %s has format %d: %w", loc, h.Format, ErrFormat)
	}
	if h.Partitions == nil {
		h.Partitions = map[int32]PartitionSummary{}
	}
	return &h, nil
}

// ReadIndex reads loc's whole index: the head and every sealed part.
func (s *Store) ReadIndex(ctx context.Context, loc Loc) (*Index, error) {
	return s.ReadIndexSince(ctx, loc, nil)
}

// ReadIndexSince reads loc's index like ReadIndex, but takes the sealed
// parts prev already holds from prev instead of storage: sealed parts never
// change (a rebuild changes the head's epoch), so rereading a growing index
// costs its head and its new parts only. prev may be nil.
func (s *Store) ReadIndexSince(ctx context.Context, loc Loc, prev *Index) (*Index, error) {
	h, err := s.readHead(ctx, loc)
	if err != nil {
		return nil, err
	}
	var sealed []SegmentEntry
	from := 1
	if prev != nil && prev.Loc == loc && prev.epoch == h.Epoch && prev.nparts <= h.Sealed {
		sealed = prev.sealed[:len(prev.sealed):len(prev.sealed)]
		from = prev.nparts + 1
	}
	parts, err := s.readParts(ctx, loc, from, h.Sealed)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		sealed = append(sealed, p...)
	}
	all := make([]SegmentEntry, 0, len(sealed)+len(h.Segments))
	all = append(append(all, sealed...), h.Segments...)
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Partition != all[j].Partition {
			return all[i].Partition < all[j].Partition
		}
		return all[i].StartOffset < all[j].StartOffset
	})
	return &Index{Loc: loc, Partitions: h.Partitions, Segments: all, epoch: h.Epoch, sealed: sealed, nparts: h.Sealed}, nil
}

// readParts reads and parses sealed parts from..to of loc, several at once:
// parsing dominates the first read of a large index, and cloud reads wait.
func (s *Store) readParts(ctx context.Context, loc Loc, from, to int) ([][]SegmentEntry, error) {
	if to < from {
		return nil, nil
	}
	parts := make([][]SegmentEntry, to-from+1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.GOMAXPROCS(0)))
	for seq := from; seq <= to; seq++ {
		g.Go(func() error {
			b, err := s.read(gctx, loc.partKey(seq))
			if err != nil {
				return fmt.Errorf("index part %d of %s: %w", seq, loc, err)
			}
			var p indexPart
			if err := yaml.Unmarshal(b, &p); err != nil {
				return fmt.Errorf("%w: index part %d of %s: %v", ErrCorrupt, seq, loc, err)
			}
			parts[seq-from] = p.Segments
			return nil
		})
	}
	return parts, g.Wait()
}

// RawIndex returns the index head's stored bytes.
func (s *Store) RawIndex(ctx context.Context, loc Loc) ([]byte, error) {
	return s.read(ctx, loc.indexKey())
}

// IndexWriter appends entries to a snapshot's index. Only the lease holder
// may use one; it is not safe for concurrent use.
type IndexWriter struct {
	s    *Store
	loc  Loc
	head *indexHead
}

// OpenIndexWriter loads loc's index head, or starts an empty one.
func (s *Store) OpenIndexWriter(ctx context.Context, loc Loc) (*IndexWriter, error) {
	h, err := s.readHead(ctx, loc)
	if IsNotFound(err) {
		h, err = &indexHead{Format: FormatVersion, Topic: loc.Topic, Version: loc.Version, Partitions: map[int32]PartitionSummary{}}, nil
	}
	if err != nil {
		return nil, err
	}
	return &IndexWriter{s: s, loc: loc, head: h}, nil
}

// Summary returns partition p's totals (NextOffset is where backup resumes).
func (w *IndexWriter) Summary(p int32) (PartitionSummary, bool) {
	ps, ok := w.head.Partitions[p]
	return ps, ok
}

// Append adds entries and rewrites the head: one object write, plus one part
// write every sealEvery entries. The head is replaced atomically.
func (w *IndexWriter) Append(ctx context.Context, entries ...SegmentEntry) error {
	h := *w.head
	h.Partitions = make(map[int32]PartitionSummary, len(w.head.Partitions))
	for p, ps := range w.head.Partitions {
		h.Partitions[p] = ps
	}
	h.Segments = append(append([]SegmentEntry(nil), w.head.Segments...), entries...)
	for i := range entries {
		ps := h.Partitions[entries[i].Partition]
		ps.add(&entries[i])
		h.Partitions[entries[i].Partition] = ps
	}
	if len(h.Segments) >= sealEvery {
		b, err := yaml.Marshal(&indexPart{Format: FormatVersion, Segments: h.Segments})
		if err != nil {
			return err
		}
		// A crash after this write and before the head's leaves an
		// unreferenced part that the next seal overwrites.
		if err := w.s.write(ctx, w.loc.partKey(h.Sealed+1), b); err != nil {
			return err
		}
		h.Sealed++
		h.Segments = nil
	}
	if err := w.s.writeHead(ctx, w.loc, &h); err != nil {
		return err
	}
	w.head = &h
	return nil
}

func (s *Store) writeHead(ctx context.Context, loc Loc, h *indexHead) error {
	h.Format = FormatVersion
	b, err := yaml.Marshal(h)
	if err != nil {
		return err
	}
	return s.write(ctx, loc.indexKey(), b)
}

// Referenced returns the IDs of every segment the index names.
func (ix *Index) Referenced() map[string]bool {
	m := make(map[string]bool, len(ix.Segments))
	for _, e := range ix.Segments {
		m[e.ULID] = true
	}
	return m
}

// WriteIndex replaces loc's index with entries (index rebuild). Entries are
// written into sealed parts of sealEvery and a head.
func (s *Store) WriteIndex(ctx context.Context, loc Loc, entries []SegmentEntry) error {
	var epoch [8]byte
	_, _ = rand.Read(epoch[:])
	h := &indexHead{Topic: loc.Topic, Version: loc.Version, Epoch: hex.EncodeToString(epoch[:]), Partitions: map[int32]PartitionSummary{}}
	for i := range entries {
		ps := h.Partitions[entries[i].Partition]
		ps.add(&entries[i])
		h.Partitions[entries[i].Partition] = ps
	}
	for len(entries) >= sealEvery {
		b, err := yaml.Marshal(&indexPart{Format: FormatVersion, Segments: entries[:sealEvery]})
		if err != nil {
			return err
		}
		if err := s.write(ctx, loc.partKey(h.Sealed+1), b); err != nil {
			return err
		}
		h.Sealed++
		entries = entries[sealEvery:]
	}
	h.Segments = entries
	return s.writeHead(ctx, loc, h)
}
