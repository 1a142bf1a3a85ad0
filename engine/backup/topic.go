package backup

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// topicRun backs up one topic into one snapshot. It holds the topic's lease;
// every write it makes is fenced by it.
type topicRun struct {
	b       *backup
	name    string
	loc     store.Loc
	topicID string
	rawID   [16]byte
	lease   *store.Lease

	imu sync.Mutex // serialises index changes
	iw  *store.IndexWriter

	// commits feeds the committer goroutine (commitLoop), which indexes
	// the segments of every partition in batches; committed is closed when
	// it has stopped.
	commits   chan commitReq
	committed chan struct{}

	parts map[int32]*partitionWriter // owned by the backup's poll goroutine

	// resume holds the snapshot's start offsets from the manifest (versions
	// cut from a live topic): where a partition without segments resumes.
	resume map[int32]int64

	// unwatch stops the watch that reports the lease's end to the backup.
	unwatch func() bool

	// compacting is the topic's compaction pass under way, if any
	// (compact.go); owned by the Run goroutine.
	compacting *compactPass

	records, payload, stored atomic.Int64
}

// newTopicRun is the one constructor of a topic run: every run of a topic,
// first or cut from another, carries the topic's IDs (so that fetches from
// an earlier incarnation are dropped) and reports the end of its lease.
func (b *backup) newTopicRun(live kafka.Topic, loc store.Loc, lease *store.Lease, iw *store.IndexWriter, resume map[int32]int64) *topicRun {
	t := &topicRun{b: b, name: live.Name, loc: loc, topicID: live.ID, rawID: live.RawID, lease: lease, iw: iw,
		parts: map[int32]*partitionWriter{}, resume: resume,
		commits: make(chan commitReq, 256), committed: make(chan struct{})}
	go t.commitLoop(b.wctx)
	lctx, cancel := lease.Context(context.Background())
	stop := context.AfterFunc(lctx, func() { b.leaseEnded(t) })
	t.unwatch = func() bool {
		ok := stop()
		cancel()
		return ok
	}
	return t
}

// commitReq asks the committer to index one segment and to say when it is.
type commitReq struct {
	e    store.SegmentEntry
	done chan error
}

// maxCommitBatch bounds how many segments one index head write commits.
const maxCommitBatch = 1024

// commit indexes segment e, which is in storage, and returns once the
// index names it. Segments committed at about the same time, by any
// partition, share one index head write (group commit): a head write costs
// the same for one entry as for hundreds, so the topic's commit rate grows
// with the number of partitions rolling segments instead of being bounded
// by one head write per segment.
func (t *topicRun) commit(ctx context.Context, e store.SegmentEntry) error {
	req := commitReq{e: e, done: make(chan error, 1)}
	select {
	case t.commits <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitLoop indexes the requested segments until commits is closed: it
// takes every request waiting when it is ready, writes one head for them
// all, and answers each. Requests of one partition stay in their order.
func (t *topicRun) commitLoop(ctx context.Context) {
	defer close(t.committed)
	for req := range t.commits {
		batch := []commitReq{req}
	more:
		for len(batch) < maxCommitBatch {
			select {
			case r, ok := <-t.commits:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		entries := make([]store.SegmentEntry, len(batch))
		for i, r := range batch {
			entries[i] = r.e
		}
		t.imu.Lock()
		err := t.iw.Append(ctx, entries...)
		t.imu.Unlock()
		for _, r := range batch {
			r.done <- err
		}
	}
}

// Expire records retention's decision in the active snapshot's index
// (retention.go).
func (t *topicRun) Expire(ctx context.Context, before map[int32]int64, at time.Time) error {
	t.imu.Lock()
	defer t.imu.Unlock()
	return t.iw.Expire(ctx, before, at)
}

func (t *topicRun) addSummary(records, payload, stored int64) {
	t.records.Add(records)
	t.payload.Add(payload)
	t.stored.Add(stored)
}

// openTopic takes the lease, fences the manifest, chooses the snapshot
// (rotating it if the topic was recreated), takes the index over, recovers
// orphans and prepares partition writers.
func (b *backup) openTopic(ctx context.Context, live kafka.Topic) (*topicRun, error) {
	lease, err := b.st.AcquireLease(ctx, live.Name, b.opts.Holder, b.opts.LeaseTTL)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = lease.Release(context.WithoutCancel(ctx))
		}
	}()
	m, err := b.st.FenceManifest(ctx, lease)
	if err != nil {
		return nil, err
	}
	loc, err := b.chooseSnapshot(ctx, lease, m, live)
	if err != nil {
		return nil, err
	}
	iw, err := b.st.OpenIndexWriter(ctx, lease, loc)
	if err != nil {
		return nil, err
	}
	resume, err := startOffsets(ctx, b.st, loc) // admin_rotate.go
	if err != nil {
		return nil, err
	}
	if err := b.st.CleanTemp(ctx, loc); err != nil {
		return nil, err
	}
	if err := recoverOrphans(ctx, b.st, lease, loc, iw, b.opts.Logger); err != nil {
		return nil, fmt.Errorf("recover %s: %w", loc, err)
	}
	if err := b.recordRetention(ctx, lease, loc); err != nil {
		return nil, err
	}
	ok = true
	_, takeover := lease.TakenOver()
	b.opts.Observer.LeaseAcquired(live.Name, takeover)
	return b.newTopicRun(live, loc, lease, iw, resume), nil
}

// chooseSnapshot returns where live's data goes, creating or rotating the
// manifest m (nil when the topic has none) as needed.
func (b *backup) chooseSnapshot(ctx context.Context, lease *store.Lease, m *store.Manifest, live kafka.Topic) (store.Loc, error) {
	if m == nil {
		layout, err := b.st.TopicLayout(ctx, live.Name)
		if err != nil {
			return store.Loc{}, err
		}
		if layout == store.LayoutFlat {
			if live.ID != "" {
				b.opts.Logger.Warn("topic keeps the flat layout it started with; recreation cannot be versioned", "topic", live.Name)
			}
			return store.Loc{Topic: live.Name}, b.checkFlatRecreated(ctx, lease, live)
		}
		if live.ID == "" {
			b.opts.Logger.Warn("cluster exposes no topic IDs (KIP-516): using the flat layout, snapshots disabled", "topic", live.Name)
			return store.Loc{Topic: live.Name}, nil
		}
		return b.newSnapshot(ctx, lease, live, "first backup")
	}
	act := m.ActiveSnapshot()
	if act == nil {
		return store.Loc{}, fmt.Errorf("manifest of %s names active snapshot v%d, which it does not list: fix or remove the manifest", live.Name, m.Active)
	}
	if live.ID != "" && act.TopicID != "" && act.TopicID != live.ID {
		b.opts.Logger.Info("topic was recreated: archiving snapshot", "topic", live.Name, "archived", fmt.Sprintf("v%d", act.Version), "old_id", act.TopicID, "new_id", live.ID)
		// Take the archived version's index over first, so that a process
		// that wrote it before can no longer add to it.
		if _, err := b.st.OpenIndexWriter(ctx, lease, store.Loc{Topic: live.Name, Version: act.Version}); err != nil {
			return store.Loc{}, err
		}
		return b.newSnapshot(ctx, lease, live, "topic recreated")
	}
	return store.Loc{Topic: live.Name, Version: act.Version}, nil
}

// newSnapshot archives the active snapshot (if any) and starts the next.
func (b *backup) newSnapshot(ctx context.Context, lease *store.Lease, live kafka.Topic, reason string) (store.Loc, error) {
	cfgs, err := b.adm.TopicConfigs(ctx, live.Name)
	if err != nil {
		b.opts.Logger.Warn("cannot read topic configs; restore --create-topics will use broker defaults", "topic", live.Name, "err", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	m, err := b.st.UpdateManifest(ctx, lease, func(m *store.Manifest) error {
		m.StartVersion(store.Snapshot{TopicID: live.ID, Created: now, Reason: reason, Partitions: live.Partitions, Configs: cfgs})
		return nil
	})
	if err != nil {
		return store.Loc{}, err
	}
	return store.Loc{Topic: live.Name, Version: m.Active}, nil
}

// checkFlatRecreated fails when a flat-layout topic's stored offsets run past
// the live topic's end: the topic was recreated and cannot be versioned.
func (b *backup) checkFlatRecreated(ctx context.Context, lease *store.Lease, live kafka.Topic) error {
	ix, err := b.st.ReadIndex(ctx, store.Loc{Topic: live.Name})
	if err != nil {
		return err
	}
	ends, err := b.adm.EndOffsets(ctx, live.Name)
	if err != nil {
		return err
	}
	for p, end := range ends {
		if s, ok := ix.Partitions[p]; ok && s.NextOffset > end {
			return flatRecreatedError(live.Name)
		}
	}
	return nil
}

// start creates the partition writers and returns the offsets to consume.
func (t *topicRun) start(ctx context.Context, partitions int32, targets map[int32]int64) map[int32]kgo.Offset {
	offs := map[int32]kgo.Offset{}
	for p := int32(0); p < partitions; p++ {
		if _, ok := t.parts[p]; ok {
			continue
		}
		next := int64(0)
		off := kgo.NewOffset().AtStart()
		if s, ok := t.iw.Summary(p); ok {
			next = s.NextOffset
			off = kgo.NewOffset().At(next)
		} else if r, ok := t.resume[p]; ok { // version cut from a live topic
			next = r
			off = kgo.NewOffset().At(next)
		}
		target := int64(-1)
		if targets != nil {
			target = targets[p]
		}
		w := newPartitionWriter(t, p, next, target)
		t.parts[p] = w
		t.b.opts.Observer.PartitionStarted(t.name, p, next)
		if !w.reached() {
			offs[p] = off
		}
		go w.run(t.b.wctx)
	}
	return offs
}

// stop closes every partition writer, waits for their final rolls, and
// reports the first error. A writer whose lease has ended writes nothing.
func (t *topicRun) stop() error {
	t.stopCompaction()
	ids := make([]int32, 0, len(t.parts))
	for p, w := range t.parts {
		close(w.in)
		ids = append(ids, p)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var first error
	for _, p := range ids {
		w := t.parts[p]
		<-w.done
		if w.err != nil && first == nil {
			first = w.err
		}
	}
	close(t.commits)
	<-t.committed
	return first
}
