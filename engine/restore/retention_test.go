package restore

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestoreRetentionAndTimestamps restores records older than the
// target's retention: without a choice preflight counts them and fails;
// ApplyTargetTopicRetention skips them, ExtendTargetTopicRetention keeps
// them by raising retention.ms, IgnoreTargetTopicRetention writes them.
// Targets are created with CreateTime whatever the source had, and keep
// the records' timestamps.
func TestRestoreRetentionAndTimestamps(t *testing.T) {
	e := newEnv(t)
	now := time.Now().Truncate(time.Millisecond)
	e.createTopic("src", 2, map[string]string{"retention.ms": "604800000"})
	var recs []*kgo.Record
	for i := 0; i < 30; i++ {
		age := time.Duration(i) * time.Minute // recent
		if i%2 == 0 {
			age += time.Duration(20+i) * 24 * time.Hour // older than 7 days
		}
		recs = append(recs, &kgo.Record{Topic: "src", Partition: int32(i % 3 % 2), Key: []byte(strconv.Itoa(i)), Value: []byte("v"), Timestamp: now.Add(-age)})
	}
	e.produce(recs...)
	e.alterConfig("src", "message.timestamp.type", "LogAppendTime")
	e.backup("src")
	src := e.kcatRead("src")
	recent := map[int32][]rec{}
	for p, rs := range src {
		for _, r := range rs {
			if r.TS >= now.Add(-7*24*time.Hour).UnixMilli() {
				recent[p] = append(recent[p], r)
			}
		}
	}
	with := func(dst string, choice RetentionPolicy) *Spec {
		spec := mapping("src", dst)
		spec.Spec.Config.Filters.Time.Retention = choice
		return spec
	}

	_, err := e.restore(with("none", ""), Options{})
	errContains(t, err, ErrRetention, "topic none: retention: 15 planned records", "retention.ms 604800000", "ApplyTargetTopicRetention", "filters.time.retention")
	if e.topicExists("none") {
		t.Fatal("a restore that failed its retention check created its target")
	}

	res, err := e.restore(with("applied", ApplyTargetTopicRetention), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Topics[0].Retention; r == nil || r.Older != 15 || r.Skipped != 15 || res.Produced != 15 {
		t.Fatalf("apply: report %+v, produced %d", r, res.Produced)
	}
	got := e.kcatRead("applied")
	for p := int32(0); p < 2; p++ {
		compare(t, fmt.Sprintf("applied partition %d", p), recent[p], got[p])
	}

	res, err = e.restore(with("extended", ExtendTargetTopicRetention), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ret := e.config("extended", "retention.ms")
	if ms, _ := strconv.ParseInt(ret, 10, 64); ms < (48*24*time.Hour+7*24*time.Hour).Milliseconds() || res.Produced != 30 {
		t.Fatalf("extend: retention.ms %s, produced %d", ret, res.Produced)
	}
	e.kc.Kfake().ApplyRetention()
	got = e.kcatRead("extended")
	for p := int32(0); p < 2; p++ {
		compare(t, fmt.Sprintf("extended partition %d", p), src[p], got[p])
	}
	if tt := e.config("extended", "message.timestamp.type"); tt != "CreateTime" {
		t.Fatalf("created target has message.timestamp.type %s", tt)
	}

	res, err = e.restore(with("ignored", IgnoreTargetTopicRetention), Options{})
	if err != nil || res.Produced != 30 || res.Topics[0].Retention.Older != 15 || e.config("ignored", "retention.ms") != "604800000" {
		t.Fatalf("ignore: %v, produced %d, report %+v", err, res.Produced, res.Topics[0].Retention)
	}

	// Existing targets: LogAppendTime would rewrite the timestamps; a
	// short retention is extended in place when asked.
	e.createTopic("appendtime", 2, map[string]string{"message.timestamp.type": "LogAppendTime", "retention.ms": "-1"})
	_, err = e.restore(with("appendtime", ""), Options{})
	errContains(t, err, ErrTimestampType, "topic appendtime: timestamp type", "LogAppendTime", "CreateTime")
	e.createTopic("week", 2, map[string]string{"retention.ms": "604800000", "retention.bytes": "100"})
	_, err = e.restore(with("week", ApplyTargetTopicRetention), Options{})
	errContains(t, err, ErrPreflight, "topic week: retention", "retention.bytes 100", "ExtendTargetTopicRetention")
	if _, err := e.restore(with("week", ExtendTargetTopicRetention), Options{}); err != nil {
		t.Fatal(err)
	}
	if ms, bytes := e.config("week", "retention.ms"), e.config("week", "retention.bytes"); ms == "604800000" || bytes != "-1" {
		t.Fatalf("existing target after extend: retention.ms %s, retention.bytes %s", ms, bytes)
	}
	got = e.kcatRead("week")
	for p := int32(0); p < 2; p++ {
		compare(t, fmt.Sprintf("week partition %d", p), src[p], got[p])
	}
}

// alterConfig sets one config of topic.
func (e *env) alterConfig(topic, key, value string) {
	e.t.Helper()
	resps, err := e.adm.AlterTopicConfigs(e.ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: key, Value: &value}}, topic)
	if err == nil {
		err = resps[0].Err
	}
	if err != nil {
		e.t.Fatalf("alter %s %s: %v", topic, key, err)
	}
}

// config returns one effective config of topic.
func (e *env) config(topic, key string) string {
	e.t.Helper()
	rcs, err := e.adm.DescribeTopicConfigs(e.ctx, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == key && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}
