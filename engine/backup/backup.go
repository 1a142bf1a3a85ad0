package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// TopicSummary is what a backup stored for one topic: PayloadBytes are the
// records' payload bytes (keys, values, headers), Stored the stored bytes
// of their segments (docs/cli.md, "Byte counts").
type TopicSummary struct {
	Topic        string `json:"topic"`
	Snapshot     int    `json:"snapshot"`
	Records      int64  `json:"records"`
	PayloadBytes int64  `json:"payload_bytes"`
	Stored       int64  `json:"stored_bytes"`
}

// Summary is the result of a backup run.
type Summary struct {
	Topics       []TopicSummary `json:"topics"`
	Records      int64          `json:"records"`
	PayloadBytes int64          `json:"payload_bytes"`
	Stored       int64          `json:"stored_bytes"`
	Duration     time.Duration  `json:"duration_ns"`
}

type backup struct {
	st    *store.Store
	kcfg  *kafka.Config
	adm   *kafka.Admin
	admCl *kgo.Client
	// cl is the consumer, created with the first topic by the Run
	// goroutine and read by the poll goroutine.
	cl    atomic.Pointer[kgo.Client]
	opts  Options
	match *matcher
	wctx  context.Context // for writes: survives the root context's cancellation

	fatalOnce sync.Once
	fatalErr  chan error

	// ended lists topic runs whose lease ended (leaseEnded); endedSig
	// wakes the Run goroutine to drop them.
	endedMu  sync.Mutex
	ended    []*topicRun
	endedSig chan struct{}
	// broken lists topic runs stopped by a failed storage write
	// (topicFailed, under endedMu); the Run goroutine restarts them
	// from storage after a backoff (restart.go).
	broken []brokenRun
	retry  map[string]retryState // owned by the Run goroutine

	topics map[string]*topicRun // owned by the Run goroutine
	done   []*topicRun          // topics stopped by recreation, for the summary
	failed []error              // topics stopped because they lost their lease
	lost   map[string]bool      // their names: discovery leaves them alone

	admin adminState // snapshot requests, --snapshot-every, retention (admin_rotate.go)
	// compactSlot lets one topic at a time merge segments (compact.go).
	compactSlot chan struct{}

	groups *groupCapturer // consumer-group captures (groups.go); nil when off
	mem    *memory        // the memory bound's budgets (memory.go); nil: unbounded
	group  *groupState    // this process's share of a --group-id group (group.go); nil without
}

// newBackup is the one constructor of a backup's state; wctx bounds its
// writes (flushContext). Run adds the Kafka clients and the topic matcher.
func newBackup(wctx context.Context, st *store.Store, kcfg *kafka.Config, opts Options) *backup {
	return &backup{st: st, kcfg: kcfg, opts: opts, wctx: wctx,
		fatalErr: make(chan error, 1), endedSig: make(chan struct{}, 1), topics: map[string]*topicRun{}, lost: map[string]bool{},
		retry:       map[string]retryState{},
		admin:       adminState{created: map[store.Loc]time.Time{}, retained: map[string]time.Time{}, compacted: map[string]time.Time{}},
		compactSlot: make(chan struct{}, 1)}
}

// Run backs up the selected topics of the cluster kcfg into st. Without
// opts.Once it runs until ctx is cancelled, then flushes what it holds and
// returns a nil error. It returns the first fatal error otherwise.
func Run(ctx context.Context, st *store.Store, kcfg *kafka.Config, opts Options) (*Summary, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	m, err := newMatcher(opts.Topics, opts.Exclude)
	if err != nil {
		return nil, err
	}
	admCl, err := kafka.NewClient(ctx, kcfg)
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	mem, err := newMemory(&opts)
	if err != nil {
		return nil, err
	}
	defer mem.logUse(opts.Logger)
	wctx, cancelWrites := flushContext(ctx, opts.FlushTimeout)
	defer cancelWrites()
	b := newBackup(wctx, st, kcfg, opts)
	b.adm, b.admCl, b.match, b.mem = kafka.NewAdmin(admCl), admCl, m, mem
	if b.groups, err = newGroupCapturer(b); err != nil {
		return nil, err
	}
	leave, err := b.joinGroup(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	err = b.run(ctx)
	b.groups.wait() // it writes under the leases stopAll releases
	if err == nil && opts.Once {
		b.groups.now(ctx)
	}
	b.ranOut()
	if !opts.Once && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil // a daemon told to stop while it was still starting
	}
	if cl := b.cl.Load(); cl != nil {
		defer cl.Close()
	}
	if serr := b.stopAll(); err == nil {
		err = serr
	}
	if err == nil && len(b.failed) > 0 {
		err = fmt.Errorf("%d topic(s) stopped: %w", len(b.failed), errors.Join(b.failed...))
	}
	leave() // once the leases are released: the next owners find them free
	sum := b.summary(time.Since(start))
	return sum, err
}

// flushContext returns the context writes run under: it survives ctx's
// cancellation, so that a stopping daemon still stores what it holds, but
// only for timeout more, so that a stalled storage cannot hold it forever
// (what it did not store is fetched again by the next run).
func flushContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(timeout, cancel)
		context.AfterFunc(wctx, func() { t.Stop() })
	})
	return wctx, func() {
		stop()
		cancel()
	}
}

// leaseEnded is called (from any goroutine) when t's lease ends; the Run
// goroutine then drops t (dropEnded).
func (b *backup) leaseEnded(t *topicRun) {
	b.endedMu.Lock()
	b.ended = append(b.ended, t)
	b.endedMu.Unlock()
	select {
	case b.endedSig <- struct{}{}:
	default:
	}
}

// dropEnded stops the topics whose lease ended: their writers write
// nothing more (every store write checks the lease), consumption of their
// partitions stops, and the backup goes on with the other topics.
func (b *backup) dropEnded() {
	b.endedMu.Lock()
	ended := b.ended
	b.ended = nil
	b.endedMu.Unlock()
	for _, t := range ended {
		if b.topics[t.name] != t {
			continue // stopped on purpose, or already dropped
		}
		err := t.lease.Err()
		b.opts.Logger.Error("lost the lease of a topic: stopped backing it up, writing nothing more to it", "topic", t.name, "err", err)
		b.unconsume(t)
		_ = t.stop() // fails at the lease check, writing nothing
		b.opts.Observer.LeaseEnded(t.name, true)
		delete(b.topics, t.name)
		b.done = append(b.done, t)
		b.failed = append(b.failed, fmt.Errorf("topic %s: %w", t.name, err))
		b.lost[t.name] = true
	}
}

// unconsume stops fetching t's partitions.
func (b *backup) unconsume(t *topicRun) {
	ps := map[string][]int32{}
	for p := range t.parts {
		ps[t.name] = append(ps[t.name], p)
	}
	if cl := b.cl.Load(); cl != nil {
		cl.RemoveConsumePartitions(ps)
		cl.PurgeTopicsFromClient(t.name)
	}
}

func (b *backup) fatal(err error) {
	b.fatalOnce.Do(func() { b.fatalErr <- err })
}

func (b *backup) run(ctx context.Context) error {
	if err := b.discover(ctx, true); err != nil {
		return err
	}
	if b.opts.Once && b.allReached() {
		return nil
	}
	pollCtx, cancelPoll := context.WithCancel(ctx)
	defer cancelPoll()
	type polled struct{ fetches kgo.Fetches }
	polls := make(chan polled)
	ack := make(chan struct{})
	go func() {
		defer close(polls)
		for {
			cl := b.cl.Load()
			if cl == nil {
				select {
				case <-pollCtx.Done():
					return
				case <-time.After(200 * time.Millisecond):
					continue
				}
			}
			f := cl.PollRecords(pollCtx, 10000)
			select {
			case polls <- polled{f}:
			case <-pollCtx.Done():
				return
			}
			select {
			case <-ack:
			case <-pollCtx.Done():
				return
			}
		}
	}()
	disc := time.NewTicker(b.opts.Discovery)
	defer disc.Stop()
	sum := time.NewTicker(b.opts.SummaryInterval)
	defer sum.Stop()
	groups := time.NewTicker(b.opts.GroupInterval)
	defer groups.Stop()
	if !b.opts.Once {
		b.groups.start(ctx)
	}
	for {
		select {
		case <-sum.C:
			b.logSummary()
		case <-groups.C:
			if !b.opts.Once {
				b.groups.start(ctx)
			}
		case <-ctx.Done():
			return nil
		case err := <-b.fatalErr:
			return err
		case <-b.endedSig:
			b.dropEnded()
			b.restartBroken()
			if b.opts.Once && b.allReached() || len(b.topics) == 0 && len(b.failed) > 0 && b.group == nil {
				return nil // Run reports the lost topics
			}
		case p, ok := <-polls:
			if !ok {
				return nil
			}
			err := b.dispatch(ctx, p.fetches)
			ack <- struct{}{}
			if err != nil {
				return err
			}
			if b.opts.Once && b.allReached() {
				return nil
			}
		case <-disc.C:
			if err := b.discover(ctx, false); err != nil {
				return err
			}
			b.sampleRates(time.Now())
		case r := <-b.groupReqs():
			err := b.applyAssignment(ctx, r.topics)
			r.done <- err
			if err != nil {
				return err
			}
		}
	}
}

// logSummary logs, per topic, what this run has stored so far and the lag:
// records in Kafka (up to the last high watermark seen) not yet fetched.
func (b *backup) logSummary() {
	for _, t := range b.topics {
		var lag int64
		for _, w := range t.parts {
			if w.hw > w.polled {
				lag += w.hw - w.polled
			}
		}
		b.opts.Logger.Info("backup progress", "topic", t.name, "snapshot", t.loc.String(),
			"records", t.records.Load(), "payload_bytes", t.payload.Load(), "stored_bytes", t.stored.Load(), "lag", lag)
	}
}

// dispatch hands fetched records to their partition writers.
func (b *backup) dispatch(ctx context.Context, fs kgo.Fetches) error {
	var recreated []string
	fs.EachError(func(topic string, p int32, err error) {
		if errors.Is(err, context.Canceled) {
			return
		}
		if errors.Is(err, kerr.UnknownTopicID) || errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.InconsistentTopicID) {
			recreated = append(recreated, topic)
			return
		}
		b.opts.Logger.Warn("fetch error (retrying)", "topic", topic, "partition", p, "err", err)
	})
	fs.EachTopic(func(ft kgo.FetchTopic) {
		t := b.topics[ft.Topic]
		if t == nil {
			return
		}
		if ft.TopicID != ([16]byte{}) && t.rawID != ([16]byte{}) && ft.TopicID != t.rawID {
			// Fetched from an earlier incarnation of a recreated topic
			// before the switch: never mix it into this snapshot.
			return
		}
		for _, fp := range ft.Partitions {
			w := t.parts[fp.Partition]
			if w != nil && fp.HighWatermark > 0 {
				w.hw = fp.HighWatermark
			}
			if w == nil || len(fp.Records) == 0 || ctx.Err() != nil {
				continue
			}
			// A writer stalled on slow storage must not keep a stop
			// request from being noticed. The writer gives the batch's
			// memory back once it encoded it.
			if b.mem.admit(ctx, fp.Records) != nil {
				continue
			}
			select {
			case w.in <- fp.Records:
				w.polled = max(w.polled, fp.Records[len(fp.Records)-1].Offset+1)
			case <-ctx.Done():
				b.mem.releaseBatch(fp.Records)
			}
		}
	})
	if len(recreated) > 0 && ctx.Err() == nil {
		return b.discover(ctx, false)
	}
	return nil
}

// allReached reports whether every partition of a --once run is done.
func (b *backup) allReached() bool {
	for _, t := range b.topics {
		for _, w := range t.parts {
			if w.target >= 0 && !w.reached() {
				return false
			}
		}
	}
	return true
}

// discover finds matching topics, starts new ones, rotates recreated ones
// and adds new partitions.
func (b *backup) discover(ctx context.Context, first bool) error {
	live, err := b.adm.Topics(ctx)
	if err != nil {
		if first {
			return err
		}
		b.opts.Logger.Warn("topic discovery failed (retrying)", "err", err)
		return nil
	}
	var names []string
	for _, n := range kafka.SortedNames(live) {
		if b.match.match(n) && b.inShare(n) {
			names = append(names, n)
		}
	}
	if first && len(names) == 0 && b.group == nil {
		sel := fmt.Sprintf("--topic %q --exclude %q", b.opts.Topics, b.opts.Exclude)
		if b.opts.Once {
			return fmt.Errorf("%w %s among %d topics in the cluster: check the patterns (they are anchored regular expressions)", ErrNoTopics, sel, len(live))
		}
		b.opts.Logger.Warn("no topic matches yet; waiting for matching topics to appear", "selection", sel)
	}
	b.opts.Observer.Assigned(names)
	add := map[string]map[int32]kgo.Offset{}
	for _, n := range names {
		lt := live[n]
		t := b.topics[n]
		if t != nil && lt.ID != "" && t.topicID != "" && lt.ID != t.topicID {
			if err := b.rotate(t); err != nil {
				return err
			}
			t = nil
		}
		if t == nil {
			if !first && b.opts.Once || b.lost[n] && b.group == nil {
				// One-shot runs keep the topic set seen at start; a topic
				// whose lease was lost stays with its new holder (in a
				// group, the group decides: its lease is taken again once
				// free).
				continue
			}
			if b.waiting(n) {
				continue // restarting after a failed write (restart.go)
			}
			nt, err := b.openTopic(ctx, lt)
			if !first && errors.Is(err, store.ErrLeaseHeld) {
				b.opts.Logger.Warn("topic appeared but another process holds its lease; trying again later", "topic", n, "err", err)
				continue
			}
			if err != nil {
				return fmt.Errorf("topic %s: %w", n, err)
			}
			b.topics[n] = nt
			t = nt
			b.opts.Logger.Info("backing up", "topic", n, "snapshot", t.loc.String(), "partitions", lt.Partitions)
		}
		// Admin hook (admin_rotate.go): cut a version on "snapshot create" or
		// --snapshot-every, and run retention. Returns the topic's current run.
		if t, err = b.adminHook(ctx, t, lt); err != nil {
			return err
		}
		var targets map[int32]int64
		if b.opts.Once {
			if targets, err = b.targets(ctx, n); err != nil {
				return err
			}
		}
		if offs := t.start(ctx, lt.Partitions, targets); len(offs) > 0 {
			add[n] = offs
		}
	}
	if len(add) == 0 {
		return nil
	}
	if b.cl.Load() == nil {
		cl, err := kafka.NewClient(ctx, b.kcfg, append([]kgo.Opt{
			kgo.ConsumePartitions(add),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.KeepControlRecords(),
			kgo.FetchMaxPartitionBytes(1 << 20),
			kgo.FetchMaxWait(500 * time.Millisecond),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		}, b.mem.consumerOpts()...)...)
		if err != nil {
			return err
		}
		b.cl.Store(cl)
		return nil
	}
	b.cl.Load().AddConsumePartitions(add)
	return nil
}

// targets returns the end offsets a --once run stops at; a partition whose
// log starts at or after its end has nothing to back up.
func (b *backup) targets(ctx context.Context, topic string) (map[int32]int64, error) {
	ends, err := b.adm.EndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	starts, err := b.adm.StartOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	for p, e := range ends {
		if starts[p] >= e {
			ends[p] = 0
		}
	}
	return ends, nil
}

// rotate stops a recreated topic's writers; discover then reopens it, which
// archives the snapshot and starts the next version.
func (b *backup) rotate(t *topicRun) error {
	b.unconsume(t)
	err := t.stop()
	t.unwatch()
	_ = t.lease.Release(b.wctx)
	b.opts.Observer.LeaseEnded(t.name, false)
	delete(b.topics, t.name)
	b.done = append(b.done, t)
	if err != nil {
		return err
	}
	if t.loc.Version == 0 {
		return flatRecreatedError(t.name)
	}
	return nil
}

// stopAll flushes every topic and releases leases.
func (b *backup) stopAll() error {
	var first error
	for _, t := range b.topics {
		err := t.stop()
		t.unwatch()
		if errors.Is(err, store.ErrLeaseLost) {
			b.failed = append(b.failed, fmt.Errorf("topic %s: %w", t.name, err))
		} else if err != nil && first == nil {
			first = err
		}
		// Logged before the release: every write to the topic is done.
		b.opts.Logger.Info("releasing lease", "topic", t.name, "reason", "stopping")
		_ = t.lease.Release(b.wctx)
		b.opts.Observer.LeaseEnded(t.name, errors.Is(err, store.ErrLeaseLost))
		b.done = append(b.done, t)
	}
	b.topics = map[string]*topicRun{}
	return first
}

func (b *backup) summary(d time.Duration) *Summary {
	s := &Summary{Duration: d}
	for _, t := range b.done {
		ts := TopicSummary{Topic: t.name, Snapshot: t.loc.Version, Records: t.records.Load(), PayloadBytes: t.payload.Load(), Stored: t.stored.Load()}
		s.Topics = append(s.Topics, ts)
		s.Records += ts.Records
		s.PayloadBytes += ts.PayloadBytes
		s.Stored += ts.Stored
	}
	sort.Slice(s.Topics, func(i, j int) bool {
		if s.Topics[i].Topic != s.Topics[j].Topic {
			return s.Topics[i].Topic < s.Topics[j].Topic
		}
		return s.Topics[i].Snapshot < s.Topics[j].Snapshot
	})
	return s
}
