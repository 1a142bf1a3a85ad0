package restore

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// failFunc records a failed preflight check.
type failFunc func(check *CheckError, format string, a ...any)

// preflight checks one topic's target and finds where each partition
// resumes. It returns one error per failed check (none when the topic's
// checks are disabled), each wrapping its CheckError, and an error only
// when the cluster cannot be asked.
func (r *restorer) preflight(ctx context.Context, j *topicJob, live map[string]kafka.Topic) ([]error, error) {
	target := j.m.TargetName()
	var probs []error
	fail := func(check *CheckError, format string, a ...any) {
		if j.checks {
			probs = append(probs, checkFailure(target, check, format, a...))
		}
	}
	lt, exists := live[target]
	if !exists {
		if !r.cfg.CreateTopics {
			fail(ErrTargetMissing, "the topic does not exist in the cluster; create it with %d partitions or set createTopics: true", j.partitions)
			return probs, nil
		}
		j.create, j.createCfg = true, createConfigs(j.snap.Configs)
		cfgs, problem, err := r.plannedConfigs(ctx, j)
		if err != nil {
			return nil, err
		}
		if problem != "" {
			fail(ErrTargetMissing, "%s", problem)
		}
		j.configs = cfgs
		if err := r.checkRetention(ctx, j, fail); err != nil {
			return nil, err
		}
		if ext := j.retention.Extended; len(ext) > 0 {
			for k, v := range ext {
				j.createCfg[k] = v
			}
		}
		return probs, nil
	}
	if lt.Partitions != j.partitions {
		fail(ErrPartitionCount, "the target has %d partitions, snapshot %s has %d", lt.Partitions, j.loc, j.partitions)
	}
	cfgs, err := targetConfigs(ctx, r.adm, target)
	if err != nil {
		return nil, err
	}
	j.configs = cfgs
	src, dst := policy(j.snap.Configs), policy(cfgs)
	if strings.Contains(src, "compact") != strings.Contains(dst, "compact") {
		fail(ErrCleanupPolicy, "the target's cleanup.policy is %q but the source's was %q: compaction would %s", dst, src,
			map[bool]string{true: "drop records of the restored history", false: "not be applied"}[strings.Contains(dst, "compact")])
	}
	if err := r.checkExisting(ctx, j, fail); err != nil {
		return nil, err
	}
	return probs, nil
}

// checkExisting runs the checks of a restore into an existing target:
// timestamps, retention, and what the target holds besides a restore to
// resume (refused unless allowNonEmpty).
func (r *restorer) checkExisting(ctx context.Context, j *topicJob, fail failFunc) error {
	r.checkTimestamps(j, fail)
	if err := r.checkRetention(ctx, j, fail); err != nil {
		return err
	}
	foreign, err := r.findResume(ctx, j)
	if err != nil {
		return err
	}
	if !r.cfg.AllowNonEmpty {
		for _, f := range foreign {
			fail(ErrTargetNotEmpty, "%s; to append anyway set allowNonEmpty: true", f)
		}
	}
	return nil
}

func policy(cfgs map[string]string) string {
	if p := cfgs["cleanup.policy"]; p != "" {
		return p
	}
	return "delete"
}

// targetConfigs returns every config of topic with a value, defaults
// included.
func targetConfigs(ctx context.Context, adm *kafka.Admin, topic string) (map[string]string, error) {
	return adm.EffectiveTopicConfigs(ctx, topic)
}

// findResume sets each partition's start from what the target already
// holds. An empty partition starts at the filter's beginning. A non-empty
// one resumes after the source record its last record is a copy of: by the
// legacy offset header when one is configured, otherwise by position (the
// k-th record of the target partition is the k-th planned record, since the
// partition was empty when the restore began). It returns a line for each
// partition whose last record is not such a copy.
func (r *restorer) findResume(ctx context.Context, j *topicJob) ([]string, error) {
	target := j.m.TargetName()
	starts, ends, err := r.adm.LogRange(ctx, target)
	if err != nil {
		return nil, err
	}
	j.endBefore = ends
	lastAt := map[int32]int64{}
	for _, pp := range j.plans {
		pp.tEnd = ends[pp.p]
		if ends[pp.p] > starts[pp.p] {
			lastAt[pp.p] = ends[pp.p] - 1
		}
	}
	if len(lastAt) == 0 {
		return nil, nil
	}
	lasts, err := readLast(ctx, r.kcfg, target, lastAt)
	if err != nil {
		return nil, err
	}
	var foreign []string
	for _, pp := range j.plans {
		at, ok := lastAt[pp.p]
		if !ok {
			continue
		}
		held := at + 1 - starts[pp.p]
		resume := r.resumeAfter
		if j.legs != nil {
			resume = r.resumeLeg
		}
		ours, err := resume(ctx, j, pp, lasts[pp.p], held)
		if err != nil {
			return nil, err
		}
		if ours {
			r.log.Info("resuming", "target", target, "partition", pp.p, "restored", pp.resumed, "next_source_offset", pp.start)
			continue
		}
		foreign = append(foreign, fmt.Sprintf("partition %d holds %d records that this restore did not write", pp.p, held))
	}
	return foreign, nil
}

// resumeAfter decides whether last, the last of the held records of the
// target partition, was written by this restore, and if so moves pp's start
// past its source record.
func (r *restorer) resumeAfter(ctx context.Context, j *topicJob, pp *partPlan, last *kgo.Record, held int64) (bool, error) {
	if last == nil {
		return false, nil
	}
	if h := r.cfg.LegacyOffsetHeader; h != "" {
		off, ok := offsetHeader(last, h)
		if !ok {
			return false, nil
		}
		n, err := pp.countThrough(ctx, r.st, j.loc, off)
		if err != nil {
			return false, err
		}
		pp.start, pp.resumed = max(pp.f.from, off+1), n
		pp.recs.Store(n)
		return true, nil
	}
	return r.resumeByPosition(ctx, j, pp, last, held)
}

// resumeByPosition moves pp's start past its held-th planned record when
// last is a copy of it, and reports whether it is.
func (r *restorer) resumeByPosition(ctx context.Context, j *topicJob, pp *partPlan, last *kgo.Record, held int64) (bool, error) {
	if last == nil {
		return false, nil
	}
	if h := r.cfg.LegacyOffsetHeader; h != "" && len(last.Headers) > 0 && last.Headers[len(last.Headers)-1].Key == h {
		c := *last // a chain's copy carries the offset header this restore added
		c.Headers = c.Headers[:len(c.Headers)-1]
		last = &c
	}
	rec, err := pp.nth(ctx, r.st, j.loc, held)
	if err != nil || rec == nil || !sameRecord(rec, last) {
		return false, err
	}
	pp.start, pp.resumed = rec.Offset+1, held
	pp.recs.Store(held)
	return true, nil
}

func offsetHeader(r *kgo.Record, name string) (int64, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == name {
			off, err := strconv.ParseInt(string(r.Headers[i].Value), 10, 64)
			return off, err == nil
		}
	}
	return 0, false
}

// sameRecord reports whether target record t is a copy of source record s.
func sameRecord(s *store.Record, t *kgo.Record) bool {
	if !bytes.Equal(s.Key, t.Key) || !bytes.Equal(s.Value, t.Value) ||
		s.Timestamp.UnixMilli() != t.Timestamp.UnixMilli() || len(s.Headers) != len(t.Headers) {
		return false
	}
	for i, h := range s.Headers {
		if h.Key != t.Headers[i].Key || !bytes.Equal(h.Value, t.Headers[i].Value) {
			return false
		}
	}
	return true
}

// readLast fetches the record at offset at[p] of each partition p of topic.
// A partition whose record does not arrive in time (a transaction marker, a
// compacted gap) is missing from the result.
func readLast(ctx context.Context, kcfg *kafka.Config, topic string, at map[int32]int64) (map[int32]*kgo.Record, error) {
	offs := map[int32]kgo.Offset{}
	for p, o := range at {
		offs[p] = kgo.NewOffset().At(o)
	}
	cl, err := kafka.NewClient(ctx, kcfg,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got := map[int32]*kgo.Record{}
	for len(got) < len(at) && tctx.Err() == nil {
		fs := cl.PollFetches(tctx)
		fs.EachRecord(func(rec *kgo.Record) {
			p := rec.Partition
			if _, seen := got[p]; !seen && rec.Offset >= at[p] {
				if rec.Attrs.IsControl() {
					rec = nil
				}
				got[p] = rec
			}
		})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return got, nil
}
