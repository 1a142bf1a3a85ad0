package restore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbackup/kbackup/store"
)

// consumeAndCommit runs a franz-go group consumer of group on topic that
// processes exactly n records (read committed), commits them and leaves
// the group. It returns the records processed by partition.
func (e *env) consumeAndCommit(group, topic string, n int) map[int32][]rec {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	got := map[int32][]rec{}
	var done []*kgo.Record
	for len(done) < n {
		fs := cl.PollRecords(e.ctx, n-len(done))
		if e.ctx.Err() != nil {
			e.t.Fatalf("group %s: processed %d of %d records before the deadline", group, len(done), n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			done = append(done, r)
			got[r.Partition] = append(got[r.Partition], toRec(r))
		})
	}
	if err := cl.CommitRecords(e.ctx, done...); err != nil {
		e.t.Fatal(err)
	}
	return got
}

func toRec(r *kgo.Record) rec {
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, h.Key+"="+strOrNull(h.Value))
	}
	return rec{Offset: r.Offset, Key: ptr(r.Key), Value: ptr(r.Value), Headers: hs, TS: r.Timestamp.UnixMilli()}
}

// consumeRest runs a group consumer of group on topic from its committed
// offsets (the start where it has none, as a consumer that never
// committed would on the source) and returns what it receives until
// want records arrived and nothing more comes for a second.
func (e *env) consumeRest(group, topic string, want int) map[int32][]rec {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	got := map[int32][]rec{}
	n := 0
	quiet, last := time.Time{}, time.Now()
	for {
		if time.Since(last) > 20*time.Second {
			e.t.Fatalf("group %s: %d of %d records, then nothing for 20s (committed on %s: %v)", group, n, want, topic, e.committed(group, topic))
		}
		ctx, cancel := context.WithTimeout(e.ctx, 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		if e.ctx.Err() != nil {
			e.t.Fatalf("group %s: %d of %d records before the deadline", group, n, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], toRec(r))
			n++
			quiet, last = time.Time{}, time.Now()
		})
		if n >= want {
			if quiet.IsZero() {
				quiet = time.Now()
			} else if time.Since(quiet) > time.Second {
				return got
			}
		}
	}
}

// commitAt commits offsets for group on topic from outside, as a consumer
// would have.
func (e *env) commitAt(group, topic string, offs map[int32]int64) {
	e.t.Helper()
	var os kadm.Offsets
	for p, o := range offs {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	rs, err := e.adm.CommitOffsets(e.ctx, group, os)
	if err == nil {
		err = rs.Error()
	}
	if err != nil {
		e.t.Fatalf("commit %s: %v", group, err)
	}
}

// capture stores the committed offsets of groups on loc's topic, as the
// backup daemon's capture does.
func (e *env) capture(loc store.Loc, at time.Time, groups ...string) {
	e.t.Helper()
	starts, err := e.adm.ListStartOffsets(e.ctx, loc.Topic)
	if err != nil {
		e.t.Fatal(err)
	}
	ends, err := e.adm.ListEndOffsets(e.ctx, loc.Topic)
	if err != nil {
		e.t.Fatal(err)
	}
	c := store.GroupCapture{Time: at}
	for _, g := range groups {
		rs, err := e.adm.FetchOffsets(e.ctx, g)
		if err != nil {
			e.t.Fatal(err)
		}
		for p, r := range rs[loc.Topic] {
			s, _ := starts.Lookup(loc.Topic, p)
			en, _ := ends.Lookup(loc.Topic, p)
			c.Offsets = append(c.Offsets, store.GroupOffset{Group: g, Partition: p, Offset: r.At, LeaderEpoch: r.LeaderEpoch,
				Metadata: r.Metadata, LogStart: s.Offset, LogEnd: en.Offset})
		}
	}
	l, err := e.st.AcquireLease(e.ctx, loc.Topic, "test-capture", time.Minute)
	if err != nil {
		e.t.Fatal(err)
	}
	defer l.Release(e.ctx)
	if err := e.st.PutGroupCapture(e.ctx, l, loc, c); err != nil {
		e.t.Fatal(err)
	}
}

// committed returns group's committed offsets on topic.
func (e *env) committed(group, topic string) map[int32]int64 {
	e.t.Helper()
	rs, err := e.adm.FetchOffsets(e.ctx, group)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, r := range rs[topic] {
		if r.At >= 0 {
			out[p] = r.At
		}
	}
	return out
}

// rest returns the records of all at or after offs[p] (0 when missing:
// the group starts from the beginning), those passing keep.
func rest(all map[int32][]rec, offs map[int32]int64, keep func(rec) bool) (map[int32][]rec, int) {
	out, n := map[int32][]rec{}, 0
	for p, rs := range all {
		for _, r := range rs {
			if r.Offset >= offs[p] && keep(r) {
				out[p] = append(out[p], r)
				n++
			}
		}
	}
	return out, n
}

func compareRest(t *testing.T, group string, want, got map[int32][]rec) {
	t.Helper()
	for p := int32(0); p < 3; p++ {
		compare(t, fmt.Sprintf("group %s partition %d", group, p), want[p], got[p])
	}
	for p := range got {
		if p >= 3 {
			t.Fatalf("group %s: records on partition %d", group, p)
		}
	}
}

// insideAbort returns, per partition, an offset inside the largest gap of
// the committed records: the aborted transaction and its marker.
func insideAbort(all map[int32][]rec) map[int32]int64 {
	out := map[int32]int64{}
	for p, rs := range all {
		best := int64(0)
		for i := 1; i < len(rs); i++ {
			if g := rs[i].Offset - rs[i-1].Offset; g > best {
				best, out[p] = g, rs[i-1].Offset+3
			}
		}
	}
	return out
}

// TestGroupsResumeExactly is the proof of issue 11: a franz-go group
// consumer processes part of a topic and commits; other groups committed
// at the start, at the end and inside an aborted transaction; the topic is
// backed up, the offsets captured, and restored into another topic with
// the groups renamed. A consumer of each renamed group on the target
// receives exactly the records the source group had not processed: no
// skip, no repeat. Rollback then removes what the restore committed.
func TestGroupsResumeExactly(t *testing.T) {
	e := newEnv(t)
	e.seedDataset("src")
	all := e.readAll("src")
	processed := e.consumeAndCommit("g-half", "src", 250)
	e.commitAt("g-start", "src", map[int32]int64{0: 0, 1: 0, 2: 0})
	ends := map[int32]int64{}
	for p, rs := range all {
		ends[p] = rs[len(rs)-1].Offset + 1
	}
	e.commitAt("g-end", "src", ends)
	e.commitAt("g-abort", "src", insideAbort(all))
	e.commitAt("not-selected", "src", map[int32]int64{0: 3})
	e.backup("src")
	loc := store.Loc{Topic: "src", Version: 1}
	e.capture(loc, time.Now(), "g-half", "g-start", "g-end", "g-abort", "not-selected")

	spec := mapping("src", "dst")
	spec.Spec.Config.ConsumerGroups = &ConsumerGroups{Include: []GroupMapping{{Source: "g-(.*)", Target: "r-$1"}}}
	stateDir := t.TempDir()
	res, err := e.restore(spec, Options{StateDir: stateDir, LockDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Topics[0].Groups
	if rep == nil || rep.Groups != 4 {
		t.Fatalf("groups report %+v, want 4 groups", rep)
	}

	srcCommitted := map[string]map[int32]int64{}
	for _, g := range []string{"g-half", "g-start", "g-end", "g-abort"} {
		srcCommitted[g] = e.committed(g, "src")
	}
	for p := range processed {
		if got, want := srcCommitted["g-half"][p], processed[p][len(processed[p])-1].Offset+1; got != want {
			t.Fatalf("g-half partition %d committed %d, want %d", p, got, want)
		}
	}
	for _, g := range []string{"g-half", "g-start", "g-end", "g-abort"} {
		want, n := rest(all, srcCommitted[g], func(rec) bool { return true })
		got := e.consumeRest("r-"+g[2:], "dst", n)
		compareRest(t, g, want, got)
		// What g-half processed plus what r-half receives is the topic, once.
		if g == "g-half" {
			for p := int32(0); p < 3; p++ {
				compare(t, fmt.Sprintf("processed + resumed, partition %d", p), all[p], append(append([]rec{}, processed[p]...), got[p]...))
			}
		}
	}
	if c := e.committed("not-selected", "dst"); len(c) != 0 {
		t.Fatalf("a group outside the selection was committed: %v", c)
	}

	// Plan from the saved state now finds every group where it is.
	rows, err := PlanGroups(e.ctx, e.st, e.kcfg, GroupsOptions{Target: "dst", StateDir: stateDir, Groups: *spec.Spec.Config.ConsumerGroups})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Action != ActionKeep && r.Action != ActionBehind {
			t.Fatalf("plan after the restore: %+v, want keep (or behind where the consumer moved on)", r)
		}
	}

	prev, err := RollbackGroups(e.ctx, e.kcfg, GroupsOptions{Target: "dst", StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(prev) != 11 {
		t.Fatalf("rollback restored %d offsets, want 11 (4 groups × 3 partitions, but g-half committed on 2)", len(prev))
	}
	for _, g := range []string{"r-half", "r-start", "r-end", "r-abort"} {
		if c := e.committed(g, "dst"); len(c) != 0 {
			t.Fatalf("after rollback %s has offsets %v, want none (it had none before)", g, c)
		}
	}
}

// TestGroupsTimeWindow restores a time window: a group whose committed
// offset lies inside the records filtered out before the window resumes
// at the first restored record, flagged; one inside the window resumes
// exactly. The capture taken after the cutoff is not used.
func TestGroupsTimeWindow(t *testing.T) {
	e := newEnv(t)
	e.seedDataset("src")
	all := e.readAll("src")
	from := base.Add(300 * time.Second) // records 300.. of the 600 (100 a partition)
	until := base.Add(500 * time.Second)
	e.commitAt("early", "src", map[int32]int64{0: 10, 1: 10, 2: 10})
	e.commitAt("inside", "src", map[int32]int64{0: 120, 1: 130, 2: 140})
	e.backup("src")
	loc := store.Loc{Topic: "src", Version: 1}
	e.capture(loc, until.Add(-time.Minute), "early", "inside")
	e.commitAt("inside", "src", map[int32]int64{0: 190, 1: 190, 2: 190})
	e.capture(loc, until.Add(time.Hour), "early", "inside") // after the cutoff: not used

	spec := mapping("src", "dst")
	spec.Spec.Config.RestoreFromDateTime = from.Format(time.RFC3339)
	spec.Spec.Config.RestoreUntilDateTime = until.Format(time.RFC3339)
	spec.Spec.Config.ConsumerGroups = &ConsumerGroups{Include: []GroupMapping{{Source: ".*"}}}
	stateDir := t.TempDir()
	res, err := e.restore(spec, Options{StateDir: stateDir, LockDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep := res.Topics[0].Groups; rep == nil || rep.Before != 3 || rep.Committed != 6 {
		t.Fatalf("groups report %+v, want 6 committed, 3 flagged before", rep)
	}
	inWindow := func(r rec) bool { return r.TS >= from.UnixMilli() && r.TS < until.UnixMilli() }
	for g, offs := range map[string]map[int32]int64{"early": {0: 10, 1: 10, 2: 10}, "inside": {0: 120, 1: 130, 2: 140}} {
		want, n := rest(all, offs, inWindow)
		compareRest(t, g, want, e.consumeRest(g, "dst", n))
	}
}

// TestGroupsCommitInterrupted cancels a restore at its first offset
// commit, then runs it again: the final offsets are those of the
// uninterrupted translation, and what rollback would restore is what the
// groups had before the first run, not what the interrupted run left.
func TestGroupsCommitInterrupted(t *testing.T) {
	e := newEnv(t)
	e.seedDataset("src")
	groups := []string{"a", "b", "c", "d"}
	for i, g := range groups {
		o := int64(40 * (i + 1))
		e.commitAt(g, "src", map[int32]int64{0: o, 1: o + 1, 2: o + 2})
	}
	e.backup("src")
	e.capture(store.Loc{Topic: "src", Version: 1}, time.Now(), groups...)
	// "c" had committed on the target before: rollback must put it back.
	e.createTopic("dst", 3, map[string]string{"retention.ms": "-1"})
	e.commitAt("c", "dst", map[int32]int64{0: 1, 1: 1, 2: 1})

	spec := mapping("src", "dst")
	spec.Spec.Config.ConsumerGroups = &ConsumerGroups{Include: []GroupMapping{{Source: ".*"}}}
	stateDir, lockDir := t.TempDir(), t.TempDir()

	ctx, cancel := context.WithCancel(e.ctx)
	var commits atomic.Int32
	k := e.kc.Kfake()
	k.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		k.KeepControl()
		if commits.Add(1) == 2 { // the second group's commit
			cancel()
			return nil, errors.New("interrupted"), true
		}
		return nil, nil, false
	})
	if _, err := Run(ctx, e.st, e.kcfg, spec, Options{StateDir: stateDir, LockDir: lockDir}); err == nil {
		t.Fatal("the interrupted restore succeeded")
	}
	cancel()
	partial := map[string]map[int32]int64{}
	for _, g := range groups {
		partial[g] = e.committed(g, "dst")
	}
	if len(partial["a"]) != 3 || len(partial["b"]) != 0 {
		t.Fatalf("after the interruption: %v, want a committed and b not", partial)
	}

	if _, err := e.restore(spec, Options{StateDir: stateDir, LockDir: lockDir}); err != nil {
		t.Fatal(err)
	}
	rows, err := PlanGroups(e.ctx, e.st, e.kcfg, GroupsOptions{Target: "dst", StateDir: stateDir, Groups: *spec.Spec.Config.ConsumerGroups})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 12 {
		t.Fatalf("plan has %d rows, want 12", len(rows))
	}
	for _, r := range rows {
		if r.Action != ActionKeep || r.Current != r.TargetOffset {
			t.Fatalf("after the rerun: %+v, want every translated offset committed", r)
		}
	}
	// The target was empty: a translated offset is its source's position
	// among the restored records; compare with an uninterrupted translation.
	st, err := loadTestState(e, stateDir)
	if err != nil {
		t.Fatal(err)
	}
	maps, _ := st.OffsetMaps()
	for _, r := range rows {
		if want := maps[r.Partition].Translate(r.SourceOffset).Target; r.TargetOffset != want {
			t.Fatalf("%s/%d: %d, want %d", r.Group, r.Partition, r.TargetOffset, want)
		}
	}
	prev := map[string]int64{}
	for _, p := range st.Groups.Previous {
		prev[fmt.Sprintf("%s/%d", p.Group, p.Partition)] = p.Offset
	}
	for _, g := range groups {
		for p := int32(0); p < 3; p++ {
			want := int64(-1)
			if g == "c" {
				want = 1
			}
			if got, ok := prev[fmt.Sprintf("%s/%d", g, p)]; !ok || got != want {
				t.Fatalf("saved previous offset of %s/%d: %d (%t), want %d", g, p, got, ok, want)
			}
		}
	}
	if _, err := RollbackGroups(e.ctx, e.kcfg, GroupsOptions{Target: "dst", StateDir: stateDir}); err != nil {
		t.Fatal(err)
	}
	if c := e.committed("c", "dst"); len(c) != 3 || c[0] != 1 || c[2] != 1 {
		t.Fatalf("c after rollback: %v, want 1 on every partition", c)
	}
	if c := e.committed("a", "dst"); len(c) != 0 {
		t.Fatalf("a after rollback: %v, want none", c)
	}
}

func loadTestState(e *env, dir string) (*TargetState, error) {
	id, err := kafkaClusterID(e)
	if err != nil {
		return nil, err
	}
	return LoadState(dir, id, "dst")
}

func kafkaClusterID(e *env) (string, error) {
	m, err := e.adm.BrokerMetadata(e.ctx)
	if err != nil {
		return "", err
	}
	return m.Cluster, nil
}

// TestGroupsActiveTarget: a group with a member on the target fails the
// commit step with ErrGroupActive, naming the group; nothing is committed.
func TestGroupsActiveTarget(t *testing.T) {
	e := newEnv(t)
	e.seedDataset("src")
	e.commitAt("busy", "src", map[int32]int64{0: 5, 1: 5, 2: 5})
	e.backup("src")
	e.capture(store.Loc{Topic: "src", Version: 1}, time.Now(), "busy")
	e.createTopic("dst", 3, map[string]string{"retention.ms": "-1"})
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ConsumerGroup("busy"), kgo.ConsumeTopics("dst"), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		ctx, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
		cl.PollFetches(ctx)
		cancel()
		ds, _ := e.adm.DescribeGroups(e.ctx, "busy")
		if ds["busy"].State == "Stable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group never became Stable: %+v", ds["busy"])
		}
	}
	spec := mapping("src", "dst")
	spec.Spec.Config.ConsumerGroups = &ConsumerGroups{Include: []GroupMapping{{Source: "busy"}}}
	_, err = e.restore(spec, Options{StateDir: t.TempDir(), LockDir: t.TempDir()})
	if !errors.Is(err, ErrGroupActive) {
		t.Fatalf("restore into an active group: %v, want ErrGroupActive", err)
	}
	if c := e.committed("busy", "dst"); len(c) != 0 {
		t.Fatalf("offsets committed into an active group: %v", c)
	}
}

// TestGroupsCopyDefault: a restore by copy (the mount's restore/, no spec)
// commits every captured group that is idle on the target and skips, and
// reports, one with members; the restore is Done.
func TestGroupsCopyDefault(t *testing.T) {
	e := newEnv(t)
	e.seedDataset("src")
	e.commitAt("idle", "src", map[int32]int64{0: 7, 1: 8, 2: 9})
	e.commitAt("busy", "src", map[int32]int64{0: 7, 1: 8, 2: 9})
	e.backup("src")
	e.capture(store.Loc{Topic: "src", Version: 1}, time.Now(), "idle", "busy")
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ConsumerGroup("busy"), kgo.ConsumeTopics("src"), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		ctx, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
		cl.PollFetches(ctx)
		cancel()
		if ds, _ := e.adm.DescribeGroups(e.ctx, "busy"); ds["busy"].State == "Stable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("group busy never became Stable")
		}
	}
	rs := NewRuns(e.ctx, e.st, e.kcfg, RunsOptions{StateDir: t.TempDir(), LockDir: t.TempDir(), Retention: ExtendTargetTopicRetention})
	defer rs.Close()
	if err := rs.Copy(CopyRequest{Name: "c1", Source: store.Loc{Topic: "src", Version: 1}, Target: "copy"}); err != nil {
		t.Fatal(err)
	}
	var rep Report
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if rep, err = rs.Report("c1"); err != nil {
			t.Fatal(err)
		}
		if rep.Status.Phase == Done || rep.Status.Phase == Failed || time.Now().After(deadline) {
			break
		}
	}
	if rep.Status.Phase != Done {
		t.Fatalf("copy: %s %s", rep.Status.Phase, rep.Status.Reason)
	}
	g := rep.Status.Topics[0].Groups
	if g == nil || g.Committed != 3 || len(g.Active) != 1 || g.Active[0] != "busy" || !g.Selection.SkipActive {
		t.Fatalf("groups report %+v, want idle committed and busy skipped", g)
	}
	if c := e.committed("idle", "copy"); len(c) != 3 || c[0] != 7 || c[1] != 8 || c[2] != 9 {
		t.Fatalf("idle on the copy: %v, want the source's offsets (the copy's offsets are the source's)", c)
	}
	if c := e.committed("busy", "copy"); len(c) != 0 {
		t.Fatalf("busy on the copy: %v, want nothing", c)
	}
}

// TestGroupsBeforeBackupStart: the source's retention deleted the first
// records before the backup ran, and a group had committed inside them:
// it resumes at the first restored record, flagged, and receives every
// record the backup holds.
func TestGroupsBeforeBackupStart(t *testing.T) {
	e := newEnv(t)
	e.createTopic("src", 3, nil)
	var recs []*kgo.Record
	for i := 0; i < 300; i++ {
		recs = append(recs, &kgo.Record{Topic: "src", Partition: int32(i % 3), Key: []byte(fmt.Sprint("k", i)),
			Value: []byte(fmt.Sprint("v", i)), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	e.produce(recs...)
	var del kadm.Offsets
	for p := int32(0); p < 3; p++ {
		del.Add(kadm.Offset{Topic: "src", Partition: p, At: 50})
	}
	if rs, err := e.adm.DeleteRecords(e.ctx, del); err != nil || rs.Error() != nil {
		t.Fatalf("delete records: %v %v", err, rs.Error())
	}
	e.commitAt("late", "src", map[int32]int64{0: 10, 1: 49, 2: 50})
	e.backup("src")
	e.capture(store.Loc{Topic: "src", Version: 1}, time.Now(), "late")
	all := e.readAll("src")
	if all[0][0].Offset != 50 {
		t.Fatalf("source starts at %d, want 50", all[0][0].Offset)
	}
	spec := mapping("src", "dst")
	spec.Spec.Config.ConsumerGroups = &ConsumerGroups{Include: []GroupMapping{{Source: "late"}}}
	res, err := e.restore(spec, Options{StateDir: t.TempDir(), LockDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if g := res.Topics[0].Groups; g == nil || g.Before != 2 || g.Committed != 3 {
		t.Fatalf("groups report %+v, want 3 committed, 2 flagged before (partition 2 committed exactly at the first record)", g)
	}
	want, n := rest(all, map[int32]int64{0: 10, 1: 49, 2: 50}, func(rec) bool { return true })
	compareRest(t, "late", want, e.consumeRest("late", "dst", n))
	if c := e.committed("late", "dst"); c[0] != 0 || c[1] != 0 || c[2] != 0 {
		t.Fatalf("late on dst: %v, want the target's start on every partition", c)
	}
}
