package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

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
type producer struct {
	cl    *kgo.Client
	limit int32
}

// createTopics creates the targets that preflight found missing, with the
// snapshot's partition count and recorded configs.
func (r *restorer) createTopics(ctx context.Context) error {
	for _, j := range r.jobs {
		if !j.create {
			continue
		}
		target := j.m.TargetName()
		if err := r.adm.CreateTopic(ctx, target, j.partitions, j.snap.Configs); err != nil {
			return err
		}
		r.log.Info("created topic", "topic", target, "partitions", j.partitions, "configs", len(j.snap.Configs))
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
	cl, err := kafka.NewClient(ctx, r.kcfg,
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(min(limit, 16<<20)),
		kgo.ProducerBatchCompression(compression(codec)),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedBytes(producerBuffer),
		kgo.MaxBufferedRecords(1<<20),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	if err != nil {
		return nil, err
	}
	return &producer{cl: cl, limit: limit}, nil
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

func (r *restorer) closeProducers() {
	for _, p := range r.prods {
		p.cl.Close()
	}
}

// restorePartition produces pp's records from its start, one block in
// memory at a time, asynchronously; the producer's buffer bounds what is in
// flight. The first failed record cancels the partition.
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
	target, hdr, cl := j.m.TargetName(), r.cfg.LegacyOffsetHeader, j.prod.cl
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
			wg.Add(1)
			cl.Produce(pctx, kr, done)
			return false
		})
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	// An interrupted partition does not wait for its buffered records:
	// closing the producer fails those not yet sent, and the idempotent
	// producer leaves the target holding a prefix of the plan.
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
