package restore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

const (
	// defaultMaxMessageBytes is Kafka's default max.message.bytes.
	defaultMaxMessageBytes = 1048588
	// producerBuffer bounds the bytes each producer holds unacknowledged.
	producerBuffer = 64 << 20
)

// producer is an idempotent franz-go producer shared by the topics whose
// max.message.bytes allows its batch size.
//
// franz-go bounds a batch by its uncompressed size, but the broker compares
// max.message.bytes with the compressed batch it receives: a record larger
// than the limit that the source accepted compressed would fail with
// MESSAGE_TOO_LARGE in cl. Such a record is produced alone, once the
// records before it on its partition are acknowledged, through large, a
// second client whose batches may be as large as franz-go allows; the
// broker then judges it compressed, as the source's broker did.
type producer struct {
	cl    *kgo.Client
	limit int32
	batch int32 // cl's batch limit: min(limit, maxBatch)

	mu    sync.Mutex
	large *kgo.Client // created on the first oversized record
	newCl func(ctx context.Context, batch int32, linger time.Duration, buffer int) (*kgo.Client, error)
}

const (
	// maxBatch caps the batches of the regular clients.
	maxBatch = 16 << 20
	// maxLargeRecord is the largest record the large client produces; a
	// broker refuses requests above socket.request.max.bytes (100 MiB by
	// default) anyway.
	maxLargeRecord = 256 << 20
	// recordOverhead bounds what a batch of one record adds to its key,
	// value and headers: the batch header (61 bytes) and the record's
	// varint fields (at most 36 bytes); recordSize adds 10 per header.
	recordOverhead = 128
)

// recordSize is an upper bound of the encoded size of a batch holding only
// r, before compression.
func recordSize(r *kgo.Record) int {
	n := recordOverhead + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

// oversized reports whether r cannot go through p's regular client.
func (p *producer) oversized(r *kgo.Record) bool { return recordSize(r) > int(p.batch) }

// largeClient returns the client for oversized records, creating it once.
func (p *producer) largeClient(ctx context.Context) (*kgo.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.large == nil {
		cl, err := p.newCl(ctx, maxLargeRecord, 0, maxLargeRecord)
		if err != nil {
			return nil, err
		}
		p.large = cl
	}
	return p.large, nil
}

// abortWait bounds how long close waits for the broker to answer the
// produce requests already sent: about franz-go's request timeout, after
// which an unanswered request is failed by the client too.
const abortWait = 30 * time.Second

// close stops the producer once every produce request it sent has its
// answer (abortWait at most), and closes the clients. Returning earlier
// would let a rerun read the target's end before those requests are
// appended, resume from there and produce their records a second time.
// The idempotent producer fails a buffered batch only when nothing is in
// flight ahead of it on its partition, so a partition whose requests keep
// succeeding sends what it buffered (producerBuffer at most) before it
// stops. close reports whether every request was answered.
func (p *producer) close() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), abortWait)
	defer cancel()
	clients := []*kgo.Client{p.cl}
	if p.large != nil {
		clients = append(clients, p.large)
	}
	answered := true
	for _, cl := range clients {
		if cl.AbortBufferedRecords(ctx) != nil {
			answered = false
		}
		cl.Close()
	}
	return answered
}

// createTopics creates the targets that preflight found missing, with the
// snapshot's partition count and recorded configs (timestamps kept as
// produced, retention as the spec chose), and extends the retention of
// existing targets when the spec chose so.
func (r *restorer) createTopics(ctx context.Context) error {
	for _, j := range r.jobs {
		if j.leg > 0 {
			j.configs = j.legs[0].configs // created or extended by the first leg
			continue
		}
		if !j.create {
			if err := r.extendRetention(ctx, j); err != nil {
				return err
			}
			continue
		}
		target := j.m.TargetName()
		if err := r.adm.CreateTopic(ctx, target, j.partitions, j.createCfg); err != nil {
			return err
		}
		r.log.Info("created topic", "topic", target, "partitions", j.partitions, "configs", len(j.createCfg))
		cfgs, err := targetConfigs(ctx, r.adm, target)
		if err != nil {
			r.log.Warn("cannot read the created topic's configs; using defaults", "topic", target, "err", err)
		}
		j.configs = cfgs
	}
	return nil
}

// startProducers creates up to MaxProducers producers and assigns each
// topic one. Topics share a producer when their max.message.bytes match;
// with more distinct values than producers, a topic uses the producer with
// the largest batch limit its own limit allows.
func (r *restorer) startProducers(ctx context.Context) error {
	limitOf := func(j *topicJob) int32 {
		if n, err := strconv.ParseInt(j.configs["max.message.bytes"], 10, 32); err == nil && n > 0 {
			return int32(n)
		}
		return defaultMaxMessageBytes
	}
	var limits []int32
	seen := map[int32]bool{}
	for _, j := range r.jobs {
		if l := limitOf(j); !seen[l] {
			seen[l] = true
			limits = append(limits, l)
		}
	}
	sort.Slice(limits, func(a, b int) bool { return limits[a] < limits[b] })
	if n := max(1, r.cfg.MaxProducers); len(limits) > n {
		// Keep the smallest (every topic must fit one) and the largest.
		limits = append(limits[:1:1], limits[len(limits)-(n-1):]...)
	}
	for _, l := range limits {
		var codec string
		for _, j := range r.jobs {
			if limitOf(j) >= l {
				codec = j.configs["compression.type"]
				break
			}
		}
		p, err := r.newProducer(ctx, l, codec)
		if err != nil {
			return err
		}
		r.prods = append(r.prods, p)
	}
	for _, j := range r.jobs {
		for _, p := range r.prods {
			if p.limit <= limitOf(j) {
				j.prod = p
			}
		}
	}
	return nil
}

func (r *restorer) newProducer(ctx context.Context, limit int32, codec string) (*producer, error) {
	newCl := func(ctx context.Context, batch int32, linger time.Duration, buffer int) (*kgo.Client, error) {
		return kafka.NewClient(ctx, r.kcfg,
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchMaxBytes(batch),
			kgo.ProducerBatchCompression(compression(codec)),
			kgo.ProducerLinger(linger),
			kgo.MaxBufferedBytes(buffer),
			kgo.MaxBufferedRecords(1<<20),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.BrokerMaxWriteBytes(max(100<<20, batch+1<<20)),
		)
	}
	batch := min(limit, maxBatch)
	buffer := producerBuffer
	if r.opts.bufferBytes > 0 {
		buffer = r.opts.bufferBytes
	}
	cl, err := newCl(ctx, batch, 5*time.Millisecond, buffer)
	if err != nil {
		return nil, err
	}
	return &producer{cl: cl, limit: limit, batch: batch, newCl: newCl}, nil
}

// compression follows the target's compression.type; "producer" (the
// default) and unknown values pick lz4, which is cheap to encode.
func compression(codec string) kgo.CompressionCodec {
	switch codec {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "zstd":
		return kgo.ZstdCompression()
	case "uncompressed", "none":
		return kgo.NoCompression()
	}
	return kgo.Lz4Compression()
}

// closeProducers closes every producer once its requests in flight are
// answered (producer.close); r.prods is empty afterwards.
func (r *restorer) closeProducers() {
	for _, p := range r.prods {
		if !p.close() {
			r.log.Warn("the broker did not answer every produce request sent before the restore stopped; "+
				"wait a minute before a rerun, or the rerun may write their records again", "wait", abortWait)
		}
	}
	r.prods = nil
}

// restorePartition produces pp's records from its start, one block in
// memory at a time, asynchronously; the producer's buffer bounds what is in
// flight. An oversized record (see producer) is produced alone, in order.
// The first failed record cancels the partition.
func (r *restorer) restorePartition(ctx context.Context, j *topicJob, pp *partPlan) error {
	if pp.start >= pp.f.until {
		return nil
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	done := func(kr *kgo.Record, err error) {
		defer wg.Done()
		if err != nil {
			cancel(fmt.Errorf("produce to partition %d: %w", pp.p, err))
			return
		}
		n := len(kr.Key) + len(kr.Value)
		for _, h := range kr.Headers {
			n += len(h.Key) + len(h.Value)
		}
		pp.recs.Add(1)
		pp.payload.Add(int64(n))
	}
	target, hdr, prod := j.m.TargetName(), r.cfg.LegacyOffsetHeader, j.prod
	_, werr := pp.walk(pctx, r.st, j.loc, pp.start,
		func(_, _, _ int64) bool { return false },
		func(_ int64, rec *store.Record) bool {
			if pctx.Err() != nil {
				return true
			}
			kr := &kgo.Record{Topic: target, Partition: pp.p, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
			if n := len(rec.Headers); n > 0 || hdr != "" {
				kr.Headers = make([]kgo.RecordHeader, n, n+1)
				for i, h := range rec.Headers {
					kr.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
				}
				if hdr != "" {
					kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: hdr, Value: strconv.AppendInt(nil, rec.Offset, 10)})
				}
			}
			cb := pp.tracked(rec.Offset, done)
			if !prod.oversized(kr) {
				wg.Add(1)
				prod.cl.Produce(pctx, kr, cb)
				return false
			}
			return !r.produceAlone(pctx, cancel, prod, &wg, kr, cb)
		})
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	// An interrupted partition does not wait for its buffered records:
	// closing the producer fails those not yet sent, waits for the answers
	// to those sent, and the idempotent producer leaves the target holding
	// a prefix of the plan.
	select {
	case <-drained:
	case <-pctx.Done():
	}
	if cause := context.Cause(pctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if werr != nil {
		return fmt.Errorf("partition %d: %w", pp.p, werr)
	}
	return ctx.Err()
}

// produceAlone produces the oversized record kr through the producer's
// large client once every record before it is acknowledged, and waits for
// it, so that the partition stays in order across the two clients. It
// returns false when the partition was cancelled meanwhile.
func (r *restorer) produceAlone(ctx context.Context, cancel context.CancelCauseFunc, prod *producer, wg *sync.WaitGroup,
	kr *kgo.Record, done func(*kgo.Record, error)) bool {
	if !waitGroup(ctx, wg) {
		return false
	}
	if recordSize(kr) > maxLargeRecord {
		cancel(fmt.Errorf("partition %d: a record of %d bytes is larger than a restore can produce (%d)", kr.Partition, recordSize(kr), maxLargeRecord))
		return false
	}
	cl, err := prod.largeClient(ctx)
	if err != nil {
		cancel(err)
		return false
	}
	wg.Add(1)
	cl.Produce(ctx, kr, func(kr *kgo.Record, err error) {
		if errors.Is(err, kerr.MessageTooLarge) {
			err = fmt.Errorf("%w: the record of %d bytes does not fit the target's max.message.bytes (%d) even compressed: raise it on the target", err, recordSize(kr), prod.limit)
		}
		done(kr, err)
	})
	return waitGroup(ctx, wg)
}

// waitGroup waits for wg, or returns false once ctx is done.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) bool {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}
