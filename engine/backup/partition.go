package backup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/store"
)

// partitionWriter owns the open segment of one partition. Only its own
// goroutine (run) touches it.
type partitionWriter struct {
	t         *topicRun
	partition int32
	in        chan []*kgo.Record
	next      int64 // fetch position: everything below is stored or skipped (writer goroutine only)
	polled    int64 // position after the records handed to the writer (poll goroutine only)
	hw        int64 // the partition's high watermark at the last fetch (poll goroutine only)
	target    int64 // --once: stop at this offset; -1 in daemon mode
	done      chan struct{}
	err       error

	seg     *store.SegmentUpload // the open segment, nil if none
	opened  time.Time
	payload int64
	rec     store.Record
}

func newPartitionWriter(t *topicRun, p int32, next, target int64) *partitionWriter {
	return &partitionWriter{t: t, partition: p, next: next, polled: next, target: target,
		in: make(chan []*kgo.Record, 4), done: make(chan struct{})}
}

// reached reports whether a --once run has been handed everything it came
// for. Only the poll goroutine may call it.
func (w *partitionWriter) reached() bool { return w.target >= 0 && w.polled >= w.target }

// run consumes batches until in is closed, then rolls the open segment.
// It always closes done.
func (w *partitionWriter) run(wctx context.Context) {
	defer close(w.done)
	age := w.t.b.opts.SegmentAge
	tick := time.NewTicker(min(age/4+time.Millisecond, time.Second))
	defer tick.Stop()
	for {
		select {
		case recs, ok := <-w.in:
			if !ok {
				w.fail(w.roll(wctx))
				return
			}
			if w.err == nil {
				w.fail(w.write(wctx, recs))
			}
			w.t.b.mem.releaseBatch(recs)
		case <-tick.C:
			if w.err == nil && w.seg != nil && time.Since(w.opened) >= age {
				w.fail(w.roll(wctx))
			}
		}
	}
}

// fail records the writer's first error. A lost lease stops only this
// topic (the lease's end reaches the backup through topicRun's watch); a
// failed storage write in a daemon restarts the topic from what storage
// holds (restart.go); anything else stops the backup.
func (w *partitionWriter) fail(err error) {
	if err != nil && w.err == nil {
		w.err = err
		if errors.Is(err, store.ErrLeaseLost) {
			return
		}
		err = fmt.Errorf("topic %s partition %d: %w", w.t.name, w.partition, err)
		if w.t.b.restartable(err) {
			w.t.b.topicFailed(w.t, err)
			return
		}
		w.t.b.fatal(err)
	}
}

func (w *partitionWriter) write(ctx context.Context, recs []*kgo.Record) error {
	var records, bytes int64
	defer func() { w.t.b.opts.Observer.Consumed(w.t.name, w.partition, records, bytes) }()
	// The batch's memory is given back after write (releaseBatch): w.rec
	// must not keep it alive until the partition's next batch.
	defer w.forget()
	for _, kr := range recs {
		if kr.Offset < w.next {
			// The partition went back: it was recreated (a cluster without
			// topic IDs) or truncated. Never mix its records in.
			if w.t.loc.Version == 0 {
				return flatRecreatedError(w.t.name)
			}
			return fmt.Errorf("offset went back from %d to %d: the topic was recreated or truncated; restart kbackup to start a new snapshot: %w", w.next, kr.Offset, ErrOffsetRegressed)
		}
		if w.target >= 0 && kr.Offset >= w.target {
			break
		}
		if kr.Attrs.IsControl() {
			w.next = kr.Offset + 1
			if w.seg != nil {
				w.seg.Skip(w.next)
			}
			continue
		}
		if w.seg == nil {
			if err := w.open(ctx); err != nil {
				return err
			}
		}
		r := &w.rec
		r.Offset, r.Timestamp, r.LeaderEpoch = kr.Offset, kr.Timestamp, kr.LeaderEpoch
		r.TimestampType = store.TimestampCreate
		if kr.Attrs.TimestampType() == 1 {
			r.TimestampType = store.TimestampLogAppend
		}
		r.Key, r.Value = kr.Key, kr.Value
		r.Headers = r.Headers[:0]
		n := len(kr.Key) + len(kr.Value)
		for _, h := range kr.Headers {
			r.Headers = append(r.Headers, store.Header{Key: h.Key, Value: h.Value})
			n += len(h.Key) + len(h.Value)
		}
		if err := w.seg.Append(r); err != nil {
			return err
		}
		w.next = kr.Offset + 1
		w.payload += int64(n)
		records++
		bytes += int64(n)
		w.t.b.opts.Stats.Records.Add(1)
		w.t.b.opts.Stats.Bytes.Add(int64(n))
		if w.seg.Size() >= w.t.b.opts.SegmentBytes {
			if err := w.roll(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// forget drops w.rec's references to the last record's payload.
func (w *partitionWriter) forget() {
	clear(w.rec.Headers[:cap(w.rec.Headers)])
	w.rec.Key, w.rec.Value = nil, nil
}

func (w *partitionWriter) open(ctx context.Context) error {
	seg, err := w.t.b.st.CreateSegment(ctx, w.t.lease, w.t.loc, store.SegmentOptions{
		Partition: w.partition, Start: w.next, Codec: w.t.b.opts.codec, BlockSize: w.t.b.opts.BlockSize,
		Spool: w.t.b.mem.segmentSpool()})
	if err != nil {
		return err
	}
	w.seg, w.opened = seg, time.Now()
	return nil
}

// roll closes the open segment, makes it visible and indexes it.
func (w *partitionWriter) roll(ctx context.Context) error {
	if w.seg == nil {
		return nil
	}
	seg := w.seg
	w.seg = nil
	e, err := seg.Commit()
	if err != nil {
		return err
	}
	if err := w.t.commit(ctx, e); err != nil {
		return err
	}
	w.t.b.opts.Stats.Stored.Add(e.StoredBytes)
	w.t.b.opts.Observer.SegmentStored(w.t.name, e)
	w.t.addSummary(e.Records, w.payload, e.StoredBytes)
	w.t.b.opts.Logger.Debug("segment stored", "topic", w.t.name, "snapshot", w.t.loc.String(), "partition", w.partition,
		"offsets", fmt.Sprintf("%d-%d", e.FirstOffset, e.LastOffset), "records", e.Records, "payload_bytes", w.payload, "stored_bytes", e.StoredBytes)
	w.payload = 0
	return nil
}
