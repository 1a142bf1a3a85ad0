package backup

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/store"
)

// Memory bounds (Options.MaxMemory).
const (
	// DefaultMaxMemory is the memory bound when Options.MaxMemory is 0.
	DefaultMaxMemory = 1 << 30
	// MinMaxMemory is the smallest bound accepted: below it the fixed
	// costs (the reserve, one upload, one fetch) do not fit.
	MinMaxMemory = 128 << 20
	// memoryReserve is the part of the bound no budget counts: the
	// binary's code mapped in memory (about 55 MiB of kbackup's resident
	// set is its code and the cloud SDKs') and the runtime's own.
	memoryReserve = 64 << 20
)

// GCLimit is the Go runtime memory limit (runtime/debug.SetMemoryLimit)
// that keeps a process bounded by maxMemory within it: the bound less the
// memory the runtime does not manage.
func GCLimit(maxMemory int64) int64 { return maxMemory - memoryReserve }

// memory divides Options.MaxMemory between what grows with the data and
// the number of partitions, so that neither sets the process's size. Of
// the bound less a fixed reserve of 64 MiB (the code and the runtime):
//
//   - 1/4: open segments (their open blocks and encoded bytes not yet
//     uploaded), in a store.Spool; past it segments spill to files and
//     flush blocks early;
//   - 1/8: upload buffers of segments being committed to cloud storage,
//     16 MiB each (the number of concurrent uploads);
//   - 1/16: fetched records handed to partition writers and not yet
//     encoded (inflight): dispatch waits for writers past it;
//   - 1/16: the Kafka client's buffered fetches (two fetches of
//     FetchMaxBytes at most);
//   - the remaining half: the garbage collector's headroom (GCLimit),
//     per-partition state, forced block bytes (store.Budget.Force) and
//     the index.
type memory struct {
	limit    int64
	spool    *store.Spool
	inflight *store.Budget
	fetchMax int32
}

// newMemory checks o.MaxMemory and builds the budgets, removing the spill
// files of dead processes from the spool directory.
func newMemory(o *Options) (*memory, error) {
	m := o.MaxMemory
	if m == 0 {
		m = DefaultMaxMemory
	}
	if m < MinMaxMemory {
		return nil, fmt.Errorf("%w: max memory %d bytes is below the minimum of %d (128MiB)", ErrBadMemory, m, MinMaxMemory)
	}
	r := m - memoryReserve
	sp, err := store.NewSpool(store.SpoolOptions{Dir: o.SpoolDir, Memory: r / 4, Uploads: r / 8,
		SegmentMemory: min(store.SegmentPartSize, r/64)})
	if err != nil {
		return nil, err
	}
	mem := &memory{limit: m, spool: sp, inflight: store.NewBudget(r / 16), fetchMax: int32(min(r/32, 1<<30))}
	mem.logBound(o.Logger)
	return mem, nil
}

// logBound logs how the bound is divided, at debug: a run that fails at
// start must say so in one line.
func (m *memory) logBound(log *slog.Logger) {
	log.Debug("memory bound", "max_memory", m.limit, "segments", m.spool.Memory().Limit(),
		"uploads", m.spool.Uploads().Limit(), "inflight", m.inflight.Limit(),
		"fetch_max_bytes", m.fetchMax, "spool_dir", m.spool.Dir())
}

// logUse logs, when the backup ends, the most each budget held and how
// often segments spilled: what an operator sizing --max-memory needs. A
// run that held no segment (it failed at start) logs it at debug only.
func (m *memory) logUse(log *slog.Logger) {
	lvl := slog.LevelInfo
	if m.spool.Memory().Peak() == 0 && m.spool.Uploads().Peak() == 0 {
		lvl = slog.LevelDebug
	}
	log.Log(context.Background(), lvl, "memory use", "segments_peak", m.spool.Memory().Peak(), "segments_forced", m.spool.Memory().Over(),
		"spilled_segments", m.spool.Spilled(), "uploads_peak", m.spool.Uploads().Peak(), "inflight_peak", m.inflight.Peak())
}

// consumerOpts bound the Kafka client's fetch buffers.
func (m *memory) consumerOpts() []kgo.Opt {
	if m == nil {
		return nil
	}
	return []kgo.Opt{
		kgo.FetchMaxBytes(m.fetchMax),
		kgo.FetchMaxPartitionBytes(min(1<<20, m.fetchMax)),
		kgo.MaxConcurrentFetches(2),
	}
}

// segmentSpool is the spool new segments are written through.
func (m *memory) segmentSpool() *store.Spool {
	if m == nil {
		return nil
	}
	return m.spool
}

// batchCost is what a batch of fetched records counts in the inflight
// budget: its payload and a record's bookkeeping each, twice that for
// records left in their own batch's buffer (detach did not copy them: the
// buffer may hold up to twice their cost, ownsBuffers), at most the whole
// budget (Budget.Acquire takes no more). It is the same when admit takes it
// and when releaseBatch gives it back: copied records' slices are capped
// at their length, and records left in place have slices that are not.
func (m *memory) batchCost(recs []*kgo.Record) int64 {
	if m == nil {
		return 0
	}
	var n int64
	inPlace := false
	loose := func(b []byte) bool { return cap(b) > len(b) }
	for _, r := range recs {
		n += int64(len(r.Key)+len(r.Value)) + recordOverhead
		inPlace = inPlace || loose(r.Key) || loose(r.Value)
		for _, h := range r.Headers {
			n += int64(len(h.Key) + len(h.Value))
			inPlace = inPlace || loose(h.Value)
		}
	}
	if inPlace {
		n *= 2
	}
	return min(n, m.inflight.Limit())
}

// recordOverhead is the memory of a fetched record besides its payload.
const recordOverhead = 256

// admit copies the payload of recs out of the fetch response they were
// decoded from, then waits until they fit in the inflight budget. The
// partition writer gives their memory back with releaseBatch once it
// encoded them; writers never wait on a budget themselves, so the wait
// always ends.
//
// The copy is what makes the budget hold: franz-go decodes uncompressed
// batches in place, so one record waiting in a partition writer's queue
// keeps its whole fetch response (up to FetchMaxBytes) alive, and with
// thousands of partitions the stragglers of dozens of fetches add up
// (2,000 partitions under 512 MiB reached 900 MiB without it). Records
// that keep only their own batch alive are not copied (ownsBuffers).
func (m *memory) admit(ctx context.Context, recs []*kgo.Record) error {
	if m == nil {
		return nil
	}
	detach(recs) // before batchCost, which tells copied records apart
	_, err := m.inflight.Acquire(ctx, m.batchCost(recs))
	return err
}

// detach moves the keys, values and header values of recs into one
// buffer of their own, keeping nil and empty apart, unless they already
// keep little more than themselves alive (ownsBuffers).
func detach(recs []*kgo.Record) {
	n := 0
	for _, r := range recs {
		n += len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			n += len(h.Value)
		}
	}
	if ownsBuffers(recs, int64(n)) {
		return
	}
	buf := make([]byte, 0, n)
	move := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		buf = append(buf, b...)
		return buf[len(buf)-len(b) : len(buf) : len(buf)]
	}
	for _, r := range recs {
		r.Key, r.Value = move(r.Key), move(r.Value)
		for i := range r.Headers {
			r.Headers[i].Value = move(r.Headers[i].Value)
		}
	}
}

// ownsBuffers reports whether no key, value or header value of recs, whose
// payload is n bytes, reaches (by its capacity) further than twice what the
// budget charges for them (batchCost): then they keep only their own
// batches alive, and copying them would cost a pass over every byte for
// nothing. That is the case for compressed batches, which franz-go
// decompresses into a buffer per batch, and producers compress by default;
// an uncompressed batch is decoded in place in the fetch response, whose
// other partitions' bytes lie past its records, so it is copied.
func ownsBuffers(recs []*kgo.Record, n int64) bool {
	limit := 2*(n+recordOverhead*int64(len(recs))) + 64<<10
	within := func(b []byte) bool { return int64(cap(b)) <= limit }
	for _, r := range recs {
		if !within(r.Key) || !within(r.Value) {
			return false
		}
		for _, h := range r.Headers {
			if !within(h.Value) {
				return false
			}
		}
	}
	return true
}

// releaseBatch gives back what acquireBatch took for recs.
func (m *memory) releaseBatch(recs []*kgo.Record) {
	if m == nil {
		return
	}
	m.inflight.Release(m.batchCost(recs))
}
