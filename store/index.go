package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"
)

// sealEvery is how many entries the index head holds before they are moved
// into an immutable part.
const sealEvery = 1000

// Limits on index objects read from storage (docs/storage-format.md §3.5).
const (
	// maxHeadBytes bounds an index head (a full head is under 1 MiB).
	maxHeadBytes = 16 << 20
	// maxPartBytes bounds a sealed part (a part is about 500 KiB).
	maxPartBytes = 16 << 20
	// maxParts bounds the sealed parts one index may name: a billion
	// segments.
	maxParts = 1 << 20
	// listPartsAbove is the part count above which a reader checks the
	// head's claim against a listing before it reads the parts.
	listPartsAbove = 64
)

// SegmentEntry is the index's description of one segment.
type SegmentEntry struct {
	ULID           string     `json:"ulid" yaml:"ulid"`
	Partition      int32      `json:"partition" yaml:"partition"`
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
	Expires        *time.Time `json:"expires,omitempty" yaml:"expires,omitempty"`
}

// Expired reports whether retention may have deleted the segment at now.
// Readers see the expiry retention recorded in the head (Index.Expire) here
// too.
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
	Segments     int64 `json:"segments" yaml:"segments"`
	Records      int64 `json:"records" yaml:"records"`
	StoredBytes  int64 `json:"stored_bytes" yaml:"stored_bytes"`
	DecodedBytes int64 `json:"decoded_bytes" yaml:"decoded_bytes"`
	FirstOffset  int64 `json:"first_offset" yaml:"first_offset"`
	LastOffset   int64 `json:"last_offset" yaml:"last_offset"`
	NextOffset   int64 `json:"next_offset" yaml:"next_offset"`
	// ExpiredBefore is set by retention: the segments of the partition
	// that end at or before this offset expired at ExpiredAt, and their
	// objects are deleted or about to be.
	ExpiredBefore int64      `json:"expired_before,omitempty" yaml:"expired_before,omitempty"`
	ExpiredAt     *time.Time `json:"expired_at,omitempty" yaml:"expired_at,omitempty"`
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

// partRange is a run of sealed parts written under one epoch: parts
// First..Last are the objects index.d/<Epoch>/<SEQ>. Epoch "" is format
// 1's index.d/<SEQ>.
type partRange struct {
	Epoch string `json:"epoch" yaml:"epoch"`
	First int    `json:"first" yaml:"first"`
	Last  int    `json:"last" yaml:"last"`
}

// indexHead is the index head: summaries, where the sealed parts are, and
// the entries not yet sealed. In format 2 each head is an entry of the
// register index.d/heads/; Seq is its number there.
type indexHead struct {
	Format  int    `json:"format" yaml:"format"`
	Topic   string `json:"topic" yaml:"topic"`
	Version int    `json:"version" yaml:"version"`
	Seq     int64  `json:"seq,omitempty" yaml:"seq,omitempty"`
	// Writer is the token of the lease its writer held.
	Writer string      `json:"writer,omitempty" yaml:"writer,omitempty"`
	Sealed int         `json:"sealed_parts" yaml:"sealed_parts"`
	Parts  []partRange `json:"parts,omitempty" yaml:"parts,omitempty"`
	// Epoch is format 1's marker of rewritten parts (index rebuild).
	Epoch      string                     `json:"epoch,omitempty" yaml:"epoch,omitempty"`
	Partitions map[int32]PartitionSummary `json:"partitions" yaml:"partitions"`
	Segments   []SegmentEntry             `json:"segments" yaml:"segments"`
}

// clone returns a copy of h that shares no maps or slices with it.
func (h *indexHead) clone() *indexHead {
	c := *h
	c.Partitions = make(map[int32]PartitionSummary, len(h.Partitions))
	for p, ps := range h.Partitions {
		c.Partitions[p] = ps
	}
	c.Parts = append([]partRange(nil), h.Parts...)
	c.Segments = append([]SegmentEntry(nil), h.Segments...)
	return &c
}

// partKeys returns the keys of h's sealed parts in order, each with an
// identity for readers' caches (format 1 parts change in place on rebuild,
// so their identity includes the head's epoch).
func (h *indexHead) partKeys(loc Loc) (keys, ids []string) {
	for _, r := range h.Parts {
		for seq := r.First; seq <= r.Last; seq++ {
			k := loc.partKey(r.Epoch, seq)
			keys = append(keys, k)
			if r.Epoch == "" {
				k += "@" + h.Epoch
			}
			ids = append(ids, k)
		}
	}
	return keys, ids
}

type indexPart struct {
	Format   int            `json:"format" yaml:"format"`
	Segments []SegmentEntry `json:"segments" yaml:"segments"`
}

// Index is a snapshot's complete index.
type Index struct {
	Loc        Loc
	Partitions map[int32]PartitionSummary
	// Segments are ordered by partition, then offset.
	Segments []SegmentEntry

	partIDs []string       // identities of the sealed parts, in order
	sealed  []SegmentEntry // entries of the sealed parts, in part order
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

// Referenced returns the IDs of every segment the index names.
func (ix *Index) Referenced() map[string]bool {
	m := make(map[string]bool, len(ix.Segments))
	for _, e := range ix.Segments {
		m[e.ULID] = true
	}
	return m
}

// readHead returns loc's current index head and the older head entries
// its listing saw, or an error wrapping ErrNotFound when loc has no index.
func (s *Store) readHead(ctx context.Context, loc Loc) (*indexHead, []int64, error) {
	e, err := s.readRegister(ctx, loc.headsKey(), maxHeadBytes)
	if IsNotFound(err) {
		h, err := s.readLegacyHead(ctx, loc)
		return h, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	h, err := parseHead(loc, registerKey(loc.headsKey(), e.seq), e.data)
	if err != nil {
		return nil, nil, err
	}
	if h.Format < 2 || h.Seq != e.seq {
		return nil, nil, fmt.Errorf("%w: index head %s says it is entry %d of format %d", ErrCorrupt, registerKey(loc.headsKey(), e.seq), h.Seq, h.Format)
	}
	return h, e.older, nil
}

// readLegacyHead reads format 1's single head object.
func (s *Store) readLegacyHead(ctx context.Context, loc Loc) (*indexHead, error) {
	b, err := s.readLimited(ctx, loc.indexKey(), maxHeadBytes)
	if err != nil {
		return nil, err
	}
	h, err := parseHead(loc, loc.indexKey(), b)
	if err != nil {
		return nil, err
	}
	if h.Format >= 2 {
		return nil, fmt.Errorf("%w: %s says the index moved to %s, which holds no head", ErrCorrupt, loc.indexKey(), loc.headsKey())
	}
	if h.Sealed > 0 {
		h.Parts = []partRange{{First: 1, Last: h.Sealed}}
	}
	return h, nil
}

// parseHead decodes and checks the head object key of loc.
func parseHead(loc Loc, key string, b []byte) (*indexHead, error) {
	var h indexHead
	if err := decodeIndexObject(b, &h); err != nil {
		return nil, fmt.Errorf("%w: index head %s: %v", ErrCorrupt, key, err)
	}
	if h.Format > FormatVersion {
		return nil, fmt.Errorf("index head %s has format %d: %w", key, h.Format, ErrFormat)
	}
	if err := h.check(loc); err != nil {
		return nil, fmt.Errorf("%w: index head %s: %v", ErrCorrupt, key, err)
	}
	if h.Partitions == nil {
		h.Partitions = map[int32]PartitionSummary{}
	}
	return &h, nil
}

// check validates what readers act on: counts that drive allocation and
// names that become keys.
func (h *indexHead) check(loc Loc) error {
	if h.Format >= 2 && (h.Topic != loc.Topic || h.Version != loc.Version) {
		return fmt.Errorf("it belongs to %s/v%d", h.Topic, h.Version)
	}
	if h.Sealed < 0 || h.Sealed > maxParts {
		return fmt.Errorf("sealed_parts %d is outside 0..%d", h.Sealed, maxParts)
	}
	if h.Format < 2 && len(h.Parts) > 0 {
		return fmt.Errorf("format %d names part ranges", h.Format)
	}
	if h.Format >= 2 {
		next := 1
		for _, r := range h.Parts {
			if !validEpoch(r.Epoch) || r.First != next || r.Last < r.First {
				return fmt.Errorf("part range %+v does not continue at part %d", r, next)
			}
			next = r.Last + 1
		}
		if next-1 != h.Sealed {
			return fmt.Errorf("part ranges name %d parts, sealed_parts says %d", next-1, h.Sealed)
		}
	}
	for p := range h.Partitions {
		if p < 0 {
			return fmt.Errorf("negative partition %d", p)
		}
	}
	if len(h.Segments) > 4*sealEvery {
		return fmt.Errorf("%d unsealed entries, more than %d", len(h.Segments), 4*sealEvery)
	}
	return checkEntries(h.Segments)
}

// checkEntries validates entries read from storage.
func checkEntries(es []SegmentEntry) error {
	for i := range es {
		e := &es[i]
		if !validSegmentID(e.ULID) {
			return fmt.Errorf("entry %d: segment ID %q is not a ULID", i, e.ULID)
		}
		if e.Partition < 0 || e.Records < 0 || e.StoredBytes < 0 || e.DecodedBytes < 0 || e.StartOffset < 0 || e.NextOffset < e.StartOffset {
			return fmt.Errorf("entry %d (segment %s): impossible partition, counts or offsets", i, e.ULID)
		}
	}
	return nil
}

// validSegmentID reports whether id may name a segment object: it becomes
// part of a key, so it must not reach outside its snapshot directory.
func validSegmentID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// validEpoch reports whether an epoch may be part of a key.
func validEpoch(e string) bool {
	if len(e) > 32 {
		return false
	}
	for _, c := range e {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ReadIndex reads loc's whole index: the head and every sealed part.
func (s *Store) ReadIndex(ctx context.Context, loc Loc) (*Index, error) {
	return s.ReadIndexSince(ctx, loc, nil)
}

// ReadIndexSince reads loc's index like ReadIndex, but takes the sealed
// parts prev already holds from prev instead of storage: sealed parts never
// change (a rebuild writes new ones under new keys), so rereading a growing
// index costs its head and its new parts only. prev may be nil.
func (s *Store) ReadIndexSince(ctx context.Context, loc Loc, prev *Index) (*Index, error) {
	for try := 0; ; try++ {
		ix, err := s.readIndexSince(ctx, loc, prev)
		if errors.Is(err, errPartGone) && try < 2 {
			continue // a rebuild replaced the parts after we read the head
		}
		return ix, err
	}
}

func (s *Store) readIndexSince(ctx context.Context, loc Loc, prev *Index) (*Index, error) {
	h, _, err := s.readHead(ctx, loc)
	if err != nil {
		return nil, err
	}
	return s.indexOf(ctx, loc, h, prev)
}

// indexOf reads the sealed parts head h names (those prev holds from prev)
// and returns the whole index.
func (s *Store) indexOf(ctx context.Context, loc Loc, h *indexHead, prev *Index) (*Index, error) {
	keys, ids := h.partKeys(loc)
	var sealed []SegmentEntry
	from := 0
	if prev != nil && prev.Loc == loc && len(prev.partIDs) <= len(ids) && equalStrings(prev.partIDs, ids[:len(prev.partIDs)]) {
		sealed = prev.sealed[:len(prev.sealed):len(prev.sealed)]
		from = len(prev.partIDs)
	}
	if err := s.checkPartsListed(ctx, loc, h, keys[from:]); err != nil {
		return nil, err
	}
	parts, err := s.readParts(ctx, keys[from:])
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
	for i := range all {
		e := &all[i]
		if ps := h.Partitions[e.Partition]; ps.ExpiredAt != nil && e.NextOffset <= ps.ExpiredBefore && (e.Expires == nil || e.Expires.After(*ps.ExpiredAt)) {
			e.Expires = ps.ExpiredAt
		}
	}
	return &Index{Loc: loc, Partitions: h.Partitions, Segments: all, partIDs: ids, sealed: sealed}, nil
}

func equalStrings(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// checkPartsListed fails when the head names more parts than a listing of
// storage shows, before anything is allocated for them.
func (s *Store) checkPartsListed(ctx context.Context, loc Loc, h *indexHead, keys []string) error {
	if len(keys) <= listPartsAbove {
		return nil
	}
	listed := map[string]bool{}
	dirs := map[string]bool{}
	for _, k := range keys {
		dirs[k[:strings.LastIndexByte(k, '/')+1]] = true
	}
	for dir := range dirs {
		objs, err := s.b.ListAll(ctx, &blob.ListOptions{Prefix: dir, Delimiter: "/"})
		if err != nil {
			return fmt.Errorf("list %s: %w", dir, err)
		}
		for _, o := range objs {
			listed[o.Key] = true
		}
	}
	missing := 0
	for _, k := range keys {
		if !listed[k] {
			missing++
		}
	}
	if missing > 0 {
		return fmt.Errorf("%w: the index head of %s names %d sealed parts, of which %d are not in storage: run kbackup index rebuild", ErrCorrupt, loc, h.Sealed, missing)
	}
	return nil
}

// readParts reads and parses the sealed parts keys, several at once:
// parsing dominates the first read of a large index, and cloud reads wait.
func (s *Store) readParts(ctx context.Context, keys []string) ([][]SegmentEntry, error) {
	parts := make([][]SegmentEntry, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.GOMAXPROCS(0)))
	for i, key := range keys {
		g.Go(func() error {
			b, err := s.readLimited(gctx, key, maxPartBytes)
			if IsNotFound(err) {
				return fmt.Errorf("index part %s: %w: %w", key, errPartGone, err)
			}
			if err != nil {
				return fmt.Errorf("index part %s: %w", key, err)
			}
			parts[i], err = parsePart(key, b)
			return err
		})
	}
	return parts, g.Wait()
}

// parsePart decodes and checks the sealed part object key.
func parsePart(key string, b []byte) ([]SegmentEntry, error) {
	var p indexPart
	if err := decodeIndexObject(b, &p); err != nil {
		return nil, fmt.Errorf("%w: index part %s: %v", ErrCorrupt, key, err)
	}
	if p.Format > FormatVersion {
		return nil, fmt.Errorf("index part %s has format %d: %w", key, p.Format, ErrFormat)
	}
	if len(p.Segments) > 4*sealEvery {
		return nil, fmt.Errorf("%w: index part %s has %d entries, more than %d", ErrCorrupt, key, len(p.Segments), 4*sealEvery)
	}
	if err := checkEntries(p.Segments); err != nil {
		return nil, fmt.Errorf("%w: index part %s: %v", ErrCorrupt, key, err)
	}
	return p.Segments, nil
}

// decodeIndexObject decodes an index head or part: JSON since format 2
// (encoding 1,000 entries as YAML took 40 times as long, and a head is
// written for every commit), YAML as format 1 wrote them.
func decodeIndexObject(b []byte, v any) error {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return json.Unmarshal(b, v)
	}
	return yaml.Unmarshal(b, v)
}

// RawIndex returns the index head's stored bytes.
func (s *Store) RawIndex(ctx context.Context, loc Loc) ([]byte, error) {
	e, err := s.readRegister(ctx, loc.headsKey(), maxHeadBytes)
	if IsNotFound(err) {
		return s.readLimited(ctx, loc.indexKey(), maxHeadBytes)
	}
	if err != nil {
		return nil, err
	}
	return e.data, nil
}

// IndexWriter changes a snapshot's index under the topic's lease. Each
// change creates the next head entry, so a writer whose lease passed to
// another process fails at the storage once the new holder has written:
// its error wraps ErrLeaseLost. It is not safe for concurrent use.
type IndexWriter struct {
	s     *Store
	lease *Lease
	loc   Loc
	head  *indexHead // the head this writer wrote last
	epoch string     // where this writer seals parts
}

// fenceTries bounds how often OpenIndexWriter rereads a head that changed
// while it was taking the index over.
const fenceTries = 3

// OpenIndexWriter takes loc's index over for the holder of lease l: it
// reads the current head (or starts an empty index) and writes it again as
// the next head entry. From then on a process that held the topic before
// can no longer change the index. A format 1 index is carried over into
// format 2, and its old head object is replaced by a stub that older
// kbackup versions refuse to read.
func (s *Store) OpenIndexWriter(ctx context.Context, l *Lease, loc Loc) (*IndexWriter, error) {
	if err := l.checkFor(loc.Topic); err != nil {
		return nil, fmt.Errorf("open index of %s: %w", loc, err)
	}
	for try := 0; try < fenceTries; try++ {
		h, older, err := s.readHead(ctx, loc)
		if IsNotFound(err) {
			h, err = &indexHead{Topic: loc.Topic, Version: loc.Version, Partitions: map[int32]PartitionSummary{}}, nil
		}
		if err != nil {
			return nil, err
		}
		legacy := h.Format == 1
		w := &IndexWriter{s: s, lease: l, loc: loc, head: h, epoch: newEpoch()}
		err = w.commit(ctx, h.clone())
		if errors.Is(err, errRaced) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if legacy {
			if err := s.writeDurable(ctx, loc.indexKey(), formatStub(loc.headsKey())); err != nil {
				return nil, err
			}
		}
		s.pruneRegister(ctx, l, loc.headsKey(), older...)
		return w, nil
	}
	return nil, fmt.Errorf("%w: the index of %s keeps changing while this process takes it over: another process is writing it", ErrLeaseLost, loc)
}

// formatStub is what replaces a format 1 object that moved into a register.
func formatStub(to string) []byte {
	return []byte(fmt.Sprintf("format: %d\nmoved_to: %s\n", FormatVersion, to))
}

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// commit writes h as the head entry after w's last one.
func (w *IndexWriter) commit(ctx context.Context, h *indexHead) error {
	if err := w.lease.checkFor(w.loc.Topic); err != nil {
		return fmt.Errorf("index of %s not written: %w", w.loc, err)
	}
	h.Format = FormatVersion
	h.Topic, h.Version = w.loc.Topic, w.loc.Version
	h.Seq = w.head.Seq + 1
	h.Writer = w.lease.Token()
	h.Epoch = ""
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := w.s.syncSegments(w.loc); err != nil {
		return err
	}
	dir := w.loc.headsKey()
	// Abandoned when the lease ends, like a segment upload: a head write
	// stalled in the network must not hold the writer past its lease (the
	// storage refuses it anyway if it lands after the next holder's).
	lctx, cancel := w.lease.Context(ctx)
	err = w.s.createRegisterEntry(lctx, dir, h.Seq, b)
	cancel()
	if err != nil && !errors.Is(err, errExists) {
		if lerr := w.lease.Err(); lerr != nil {
			return fmt.Errorf("index of %s not written: %w", w.loc, lerr)
		}
	}
	if errors.Is(err, errExists) {
		if w.ownsHead(ctx, h.Seq) {
			err = nil // a retry of our own create
		} else {
			return fmt.Errorf("%w: index head %s", errRaced, registerKey(dir, h.Seq))
		}
	}
	if err != nil {
		return fmt.Errorf("write index head of %s: %w", w.loc, err)
	}
	w.head = h
	w.s.pruneRegister(ctx, w.lease, dir, h.Seq-3)
	return nil
}

// ownsHead reports whether head entry seq was written by w's lease.
func (w *IndexWriter) ownsHead(ctx context.Context, seq int64) bool {
	b, err := w.s.readRegisterEntry(ctx, w.loc.headsKey(), seq, maxHeadBytes)
	if err != nil {
		return false
	}
	var h indexHead
	return decodeIndexObject(b, &h) == nil && h.Writer == w.lease.Token()
}

// change commits h, reporting a lost race as a lost lease: the lease ends.
func (w *IndexWriter) change(ctx context.Context, h *indexHead) error {
	err := w.commit(ctx, h)
	if errors.Is(err, errRaced) {
		w.lease.end(fmt.Errorf("%w: %w: another process holds topic %s now", ErrLeaseLost, err, w.loc.Topic))
		return w.lease.Err()
	}
	return err
}

// Summary returns partition p's totals (NextOffset is where backup resumes).
func (w *IndexWriter) Summary(p int32) (PartitionSummary, bool) {
	ps, ok := w.head.Partitions[p]
	return ps, ok
}

// Append adds entries: one head entry, plus one part write every sealEvery
// entries.
func (w *IndexWriter) Append(ctx context.Context, entries ...SegmentEntry) error {
	h := w.head.clone()
	h.Segments = append(h.Segments, entries...)
	for i := range entries {
		ps := h.Partitions[entries[i].Partition]
		ps.add(&entries[i])
		h.Partitions[entries[i].Partition] = ps
	}
	if len(h.Segments) >= sealEvery {
		if err := w.seal(ctx, h, h.Segments); err != nil {
			return err
		}
		h.Segments = nil
	}
	return w.change(ctx, h)
}

// seal writes entries as h's next sealed part, under w's epoch: nobody else
// writes there, so a part left by a crash before its head is simply
// overwritten.
func (w *IndexWriter) seal(ctx context.Context, h *indexHead, entries []SegmentEntry) error {
	if err := w.lease.checkFor(w.loc.Topic); err != nil {
		return fmt.Errorf("index of %s not written: %w", w.loc, err)
	}
	seq := h.Sealed + 1
	b, err := json.Marshal(&indexPart{Format: FormatVersion, Segments: entries})
	if err != nil {
		return err
	}
	if err := w.s.writeDurable(ctx, w.loc.partKey(w.epoch, seq), b); err != nil {
		return err
	}
	if n := len(h.Parts); n > 0 && h.Parts[n-1].Epoch == w.epoch && h.Parts[n-1].Last == seq-1 {
		h.Parts[n-1].Last = seq
	} else {
		h.Parts = append(h.Parts, partRange{Epoch: w.epoch, First: seq, Last: seq})
	}
	h.Sealed = seq
	return nil
}

// Expire records that retention expires, in each partition of before, the
// segments that end at or before the given offset, at time at. Readers see
// it as those entries' Expires; the caller deletes the objects afterwards.
func (w *IndexWriter) Expire(ctx context.Context, before map[int32]int64, at time.Time) error {
	h := w.head.clone()
	at = at.UTC()
	for p, off := range before {
		ps := h.Partitions[p]
		if off <= ps.ExpiredBefore {
			continue
		}
		ps.ExpiredBefore, ps.ExpiredAt = off, &at
		h.Partitions[p] = ps
	}
	return w.change(ctx, h)
}

// Index returns the whole index as w last wrote it: its head and every
// sealed part it names. Unlike ReadIndex it cannot see another writer's
// head, so a caller that serialises its changes with w's (compaction in
// the daemon) changes exactly what it read.
func (w *IndexWriter) Index(ctx context.Context) (*Index, error) {
	return w.s.indexOf(ctx, w.loc, w.head, nil)
}

// Replace calls fn with the index as w last wrote it (Index) and rewrites
// the index to the entries fn returns (Rewrite).
func (w *IndexWriter) Replace(ctx context.Context, fn func(ix *Index) ([]SegmentEntry, error)) error {
	ix, err := w.Index(ctx)
	if err != nil {
		return err
	}
	entries, err := fn(ix)
	if err != nil {
		return err
	}
	return w.Rewrite(ctx, entries)
}

// Rewrite replaces the index with entries (index rebuild, compaction):
// they are sealed into parts under a new epoch and one head entry switches
// to them, so an interrupted rewrite leaves the old index whole. Parts no
// longer named are deleted afterwards. Retention's marks of partitions that
// entries still hold are kept.
func (w *IndexWriter) Rewrite(ctx context.Context, entries []SegmentEntry) error {
	h := &indexHead{Partitions: map[int32]PartitionSummary{}, Seq: w.head.Seq}
	w.epoch = newEpoch()
	for i := range entries {
		ps := h.Partitions[entries[i].Partition]
		ps.add(&entries[i])
		h.Partitions[entries[i].Partition] = ps
	}
	for p, ps := range h.Partitions {
		if old, ok := w.head.Partitions[p]; ok && old.ExpiredAt != nil {
			ps.ExpiredBefore, ps.ExpiredAt = old.ExpiredBefore, old.ExpiredAt
			h.Partitions[p] = ps
		}
	}
	for len(entries) >= sealEvery {
		if err := w.seal(ctx, h, entries[:sealEvery]); err != nil {
			return err
		}
		entries = entries[sealEvery:]
	}
	h.Segments = entries
	old, _ := w.head.partKeys(w.loc)
	if err := w.change(ctx, h); err != nil {
		return err
	}
	ctx, cancel := w.lease.Context(ctx)
	defer cancel()
	for _, k := range old {
		if err := w.lease.checkFor(w.loc.Topic); err != nil {
			return nil //nolint:nilerr // the index is written; stale parts are only garbage
		}
		_ = w.s.delete(ctx, k)
	}
	return nil
}

// WriteIndex replaces loc's index with entries under lease l: the index
// rebuild's write (IndexWriter.Rewrite).
func (s *Store) WriteIndex(ctx context.Context, l *Lease, loc Loc, entries []SegmentEntry) error {
	w, err := s.OpenIndexWriter(ctx, l, loc)
	if err != nil {
		return err
	}
	return w.Rewrite(ctx, entries)
}

// Covers reports whether the fetch ranges of entries (one partition's, in
// offset order) cover every offset from first to last: a segment holding
// those records adds nothing to them.
func Covers(entries []SegmentEntry, first, last int64) bool {
	pos := first
	for _, e := range entries {
		if e.StartOffset <= pos && e.NextOffset > pos {
			pos = e.NextOffset
		}
		if pos > last {
			return true
		}
	}
	return false
}
