package restore

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kbackup/kbackup/store"
)

// RetentionReport is what a topic's preflight found about the target's
// retention: records older than the target keeps, and what was done about
// them (Config.Filters.Time.Retention).
type RetentionReport struct {
	Policy RetentionPolicy `json:"policy,omitempty"`
	// RetentionMs is the target's retention.ms (-1: none) before the
	// restore; RetentionBytes its retention.bytes.
	RetentionMs    int64 `json:"retention_ms"`
	RetentionBytes int64 `json:"retention_bytes"`
	// Cutoff is now minus RetentionMs: the broker may delete records with
	// earlier timestamps as soon as they are written.
	Cutoff *time.Time `json:"cutoff,omitempty"`
	// Older counts the planned records with timestamps before Cutoff;
	// Skipped those left out by ApplyTargetTopicRetention.
	Older   int64 `json:"older"`
	Skipped int64 `json:"skipped,omitempty"`
	// OverBytes lists the partitions whose planned bytes exceed
	// RetentionBytes.
	OverBytes []int32 `json:"over_bytes,omitempty"`
	// Extended are the configs ExtendTargetTopicRetention set.
	Extended map[string]string `json:"extended,omitempty"`
}

// timestampConfigs are source configs a created target does not copy: the
// restore writes the source's timestamps (CreateTime), and limits on how
// old a timestamp may be would refuse old records.
var timestampConfigs = []string{"message.timestamp.type", "message.timestamp.difference.max.ms", "message.timestamp.before.max.ms"}

// createConfigs are the configs a target is created with: the snapshot's,
// with timestamps kept as produced.
func createConfigs(snap map[string]string) map[string]string {
	out := make(map[string]string, len(snap)+1)
	for k, v := range snap {
		out[k] = v
	}
	for _, k := range timestampConfigs {
		delete(out, k)
	}
	out["message.timestamp.type"] = "CreateTime"
	return out
}

// plannedConfigs returns the configs the target of j will have once
// created: j.createCfg completed with the defaults the cluster reports for
// a validate-only creation, and the broker's retention defaults. problem
// is set when the cluster would refuse the creation.
func (r *restorer) plannedConfigs(ctx context.Context, j *topicJob) (cfgs map[string]string, problem string, err error) {
	target := j.m.TargetName()
	cfgs = make(map[string]string, len(j.createCfg))
	for k, v := range j.createCfg {
		cfgs[k] = v
	}
	valid, refused, err := r.adm.ValidateCreateTopic(ctx, target, j.partitions, j.createCfg)
	if err != nil {
		return nil, "", err
	}
	if refused != "" {
		return cfgs, "the cluster would refuse to create it: " + refused, nil
	}
	for k, v := range valid {
		if _, set := cfgs[k]; !set {
			cfgs[k] = v
		}
	}
	for _, k := range []string{"retention.ms", "retention.bytes", "cleanup.policy"} {
		if _, ok := cfgs[k]; !ok {
			if v, ok := r.brokerDefault(ctx, k); ok {
				cfgs[k] = v
			}
		}
	}
	return cfgs, "", nil
}

// brokerDefault returns the broker-wide default of topic config key, read
// once per restore from the first broker's configs.
func (r *restorer) brokerDefault(ctx context.Context, key string) (string, bool) {
	if r.brokerCfg == nil {
		var err error
		if r.brokerCfg, err = r.adm.BrokerConfigs(ctx); err != nil {
			r.brokerCfg = map[string]string{} // no defaults known: none applied
		}
	}
	b := r.brokerCfg
	switch key {
	case "retention.ms":
		if v, ok := b["log.retention.ms"]; ok {
			return v, true
		}
		for _, u := range []struct {
			k  string
			ms int64
		}{{"log.retention.minutes", 60000}, {"log.retention.hours", 3600000}} {
			if n, err := strconv.ParseInt(b[u.k], 10, 64); err == nil {
				if n < 0 {
					return "-1", true
				}
				return strconv.FormatInt(n*u.ms, 10), true
			}
		}
		return "604800000", true // Kafka's default: 7 days
	case "retention.bytes":
		v, ok := b["log.retention.bytes"]
		return v, ok
	case "cleanup.policy":
		v, ok := b["log.cleanup.policy"]
		return v, ok
	}
	return "", false
}

// configInt returns cfgs[key] as a number, or def.
func configInt(cfgs map[string]string, key string, def int64) int64 {
	if n, err := strconv.ParseInt(strings.TrimSpace(cfgs[key]), 10, 64); err == nil {
		return n
	}
	return def
}

// checkTimestamps fails a target that would not keep the records'
// timestamps: LogAppendTime rewrites them (and a rerun could then not
// recognise what it restored), a timestamp age limit refuses old records.
func (r *restorer) checkTimestamps(j *topicJob, fail failFunc) {
	if t := j.configs["message.timestamp.type"]; strings.EqualFold(t, "LogAppendTime") {
		fail(ErrTimestampType, "the target's message.timestamp.type is LogAppendTime: the broker would replace every record's timestamp "+
			"with the time of the restore (and a rerun could not recognise what was restored); set it to CreateTime")
	}
	oldest, ok := j.oldest()
	if !ok {
		return
	}
	age := r.now().Sub(oldest).Milliseconds()
	for _, k := range timestampConfigs[1:] {
		if limit := configInt(j.configs, k, math.MaxInt64); limit >= 0 && age > limit {
			fail(ErrTimestampAge, "the target's %s is %d ms but the oldest planned record is %d ms old: the broker would refuse it; raise %s or restore a later time window",
				k, limit, age, k)
		}
	}
}

// oldest returns the earliest timestamp the plan may restore.
func (j *topicJob) oldest() (time.Time, bool) {
	var t time.Time
	for _, pp := range j.plans {
		for i := range pp.segs {
			if m := pp.segs[i].MinTimestamp; t.IsZero() || m.Before(t) {
				t = m
			}
		}
	}
	return t, !t.IsZero()
}

// checkRetention counts the planned records the target's retention would
// delete soon after the restore writes them and applies the spec's choice
// (RetentionPolicy); with no choice, any such record fails the check.
func (r *restorer) checkRetention(ctx context.Context, j *topicJob, fail failFunc) error {
	choice := r.cfg.Filters.Time.Retention
	rep := &RetentionReport{Policy: choice, RetentionMs: configInt(j.configs, "retention.ms", -1), RetentionBytes: configInt(j.configs, "retention.bytes", -1)}
	j.retention = rep
	if !strings.Contains(policy(j.configs), "delete") {
		rep.RetentionMs, rep.RetentionBytes = -1, -1 // compaction only: nothing expires
	}
	now := r.now()
	if rep.RetentionMs >= 0 {
		c := now.Add(-time.Duration(rep.RetentionMs) * time.Millisecond)
		rep.Cutoff = &c
		for _, pp := range j.plans {
			n, err := pp.countBefore(ctx, r.st, j.loc, c.UnixMilli())
			if err != nil {
				return fmt.Errorf("source %s partition %d: %w", j.loc, pp.p, err)
			}
			rep.Older += n
		}
	}
	if rep.RetentionBytes >= 0 {
		for _, pp := range j.plans {
			if pp.bytesTotal > rep.RetentionBytes {
				rep.OverBytes = append(rep.OverBytes, pp.p)
			}
		}
	}
	if rep.Older == 0 && len(rep.OverBytes) == 0 {
		return nil
	}
	var why []string
	if rep.Older > 0 {
		why = append(why, fmt.Sprintf("%d planned records have timestamps before %s, older than the target's retention.ms %d",
			rep.Older, rep.Cutoff.UTC().Format(time.RFC3339), rep.RetentionMs))
	}
	if len(rep.OverBytes) > 0 {
		why = append(why, fmt.Sprintf("partitions %v plan more bytes than the target's retention.bytes %d", rep.OverBytes, rep.RetentionBytes))
	}
	msg := strings.Join(why, " and ") + ": the broker would delete them soon after the restore"
	switch choice {
	case ApplyTargetTopicRetention:
		if len(rep.OverBytes) > 0 {
			fail(ErrRetention, "%s; %s skips only records older than retention.ms: choose %s or %s", msg,
				ApplyTargetTopicRetention, ExtendTargetTopicRetention, IgnoreTargetTopicRetention)
			return nil
		}
		for _, pp := range j.plans {
			pp.skipBefore(rep.Cutoff.UnixMilli())
		}
		rep.Skipped = rep.Older
		r.log.Warn("skipping records the target's retention would delete", "target", j.m.TargetName(), "records", rep.Skipped, "before", rep.Cutoff)
	case ExtendTargetTopicRetention:
		rep.Extended = map[string]string{}
		if rep.Older > 0 {
			oldest, _ := j.oldest()
			rep.Extended["retention.ms"] = strconv.FormatInt(now.Sub(oldest).Milliseconds()+rep.RetentionMs, 10)
		}
		if len(rep.OverBytes) > 0 {
			rep.Extended["retention.bytes"] = "-1"
		}
		r.log.Warn("extending the target's retention to keep every restored record", "target", j.m.TargetName(), "configs", rep.Extended)
	case IgnoreTargetTopicRetention:
		r.log.Warn("restoring records the target's retention will delete", "target", j.m.TargetName(), "reason", msg)
	default:
		if !j.checks {
			r.log.Warn("restoring records the target's retention will delete (preflight checks disabled)", "target", j.m.TargetName(), "reason", msg)
		}
		fail(ErrRetention, "%s; choose filters.time.retention: %s (apply) skips them, %s (extend) raises the target's retention to keep them, %s (ignore) restores them anyway",
			msg, ApplyTargetTopicRetention, ExtendTargetTopicRetention, IgnoreTargetTopicRetention)
	}
	return nil
}

// countBefore counts the planned records with timestamps before cutoff
// (milliseconds), reading only the blocks that cutoff or the filter cut.
func (pp *partPlan) countBefore(ctx context.Context, st *store.Store, loc store.Loc, cutoff int64) (int64, error) {
	f := pp.f
	f.tUntil = min(f.tUntil, cutoff)
	if f.tUntil <= f.tFrom {
		return 0, nil
	}
	sub := newPartPlan(pp.p, f, pp.segs)
	sub.now = pp.now
	return sub.walk(ctx, st, loc, f.from, func(_, _, _ int64) bool { return true }, func(int64, *store.Record) bool { return false })
}

// skipBefore narrows the plan to records with timestamps from cutoff on.
func (pp *partPlan) skipBefore(cutoff int64) {
	f := pp.f
	f.tFrom = max(f.tFrom, cutoff)
	n := newPartPlan(pp.p, f, pp.segs)
	pp.f, pp.segs, pp.recsTotal, pp.bytesTotal = n.f, n.segs, n.recsTotal, n.bytesTotal
}

// extendRetention sets the configs ExtendTargetTopicRetention chose on an
// existing target (created targets get them at creation).
func (r *restorer) extendRetention(ctx context.Context, j *topicJob) error {
	if j.create || j.retention == nil || len(j.retention.Extended) == 0 {
		return nil
	}
	target := j.m.TargetName()
	if err := r.adm.SetTopicConfigs(ctx, target, j.retention.Extended); err != nil {
		return fmt.Errorf("extend the retention of %s: %w", target, err)
	}
	r.log.Info("extended the target's retention", "topic", target, "configs", j.retention.Extended)
	return nil
}
