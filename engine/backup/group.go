package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/kbackup/kbackup/kafka"
)

// errStopping answers a group assignment that arrives once the backup has
// stopped serving them.
var errStopping = errors.New("backup is stopping")

// groupState is a backup's share of a --group-id group: the group's
// membership (kafka.RunGroup) hands this process topics, and discovery
// starts only those. Assignments go through the Run goroutine, which owns
// the topic runs.
type groupState struct {
	reqs    chan assignReq
	runDone chan struct{} // closed when the Run goroutine serves reqs no more
	// assigned is this process's share, owned by the Run goroutine.
	assigned map[string]bool

	// Traffic per held topic, sampled by the Run goroutine at each
	// discovery and read by the membership at each join (kafka
	// GroupOptions.Rates).
	mu     sync.Mutex
	rates  map[string]int64 // bytes per second, smoothed
	seen   map[string]int64 // payload bytes at the last sample
	seenAt time.Time
}

// sampleRates updates each held topic's traffic from its payload counter:
// an exponential average over samples (half its weight from the newest),
// so that one burst does not move topics around.
func (b *backup) sampleRates(now time.Time) {
	g := b.group
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	elapsed := now.Sub(g.seenAt).Seconds()
	seen := make(map[string]int64, len(b.topics))
	rates := make(map[string]int64, len(b.topics))
	for name, t := range b.topics {
		n := t.payload.Load()
		seen[name] = n
		prev, ok := g.seen[name]
		if !ok || g.seenAt.IsZero() || elapsed <= 0 || n < prev {
			rates[name] = g.rates[name] // a new run: no rate yet
			continue
		}
		rates[name] = (g.rates[name] + int64(float64(n-prev)/elapsed)) / 2
	}
	g.seen, g.rates, g.seenAt = seen, rates, now
}

// heldRates is kafka.GroupOptions.Rates: a copy, safe to send.
func (g *groupState) heldRates() map[string]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]int64, len(g.rates))
	for t, r := range g.rates {
		if r > 0 {
			out[t] = r
		}
	}
	return out
}

// assignReq is one assignment for the Run goroutine to apply.
type assignReq struct {
	topics []string
	done   chan error
}

// joinGroup starts this process's membership of opts.GroupID (none without
// it) and returns the function that leaves the group; Run calls it once
// every lease is released, so that the next owners find them free.
func (b *backup) joinGroup(ctx context.Context) (leave func(), err error) {
	if b.opts.GroupID == "" {
		return func() {}, nil
	}
	// A client of its own: a JoinGroup waits at the coordinator for the
	// whole rebalance, and requests on its connection wait behind it.
	cl, err := kafka.NewClient(ctx, b.kcfg)
	if err != nil {
		return nil, err
	}
	g := &groupState{reqs: make(chan assignReq), runDone: make(chan struct{}), assigned: map[string]bool{}}
	b.group = g
	adm := kafka.NewAdmin(cl)
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := kafka.RunGroup(mctx, cl, kafka.GroupOptions{
			Group:            b.opts.GroupID,
			SessionTimeout:   b.opts.GroupSessionTimeout,
			RebalanceTimeout: max(2*b.opts.FlushTimeout, b.opts.GroupSessionTimeout),
			CheckInterval:    b.opts.Discovery,
			Work:             func(ctx context.Context) (map[string]int32, error) { return b.groupWork(ctx, adm) },
			Rates:            g.heldRates,
			Balance:          balance,
			Apply:            g.apply,
			Logger:           b.opts.Logger,
		})
		if err != nil {
			b.fatal(err)
		}
	}()
	return func() {
		cancel()
		<-done
		cl.Close()
	}, nil
}

// groupWork lists, for the group's leader, the topics the group backs up
// and their partition counts: the leader's --topic and --exclude decide.
func (b *backup) groupWork(ctx context.Context, adm *kafka.Admin) (map[string]int32, error) {
	live, err := adm.Topics(ctx)
	if err != nil {
		return nil, err
	}
	work := map[string]int32{}
	for n, t := range live {
		if b.match.match(n) {
			work[n] = t.Partitions
		}
	}
	return work, nil
}

// apply hands topics to the Run goroutine and returns once it has
// released every topic not among them (kafka.GroupOptions.Apply).
func (g *groupState) apply(ctx context.Context, topics []string) error {
	req := assignReq{topics: topics, done: make(chan error, 1)}
	select {
	case g.reqs <- req:
	case <-g.runDone:
		return errStopping
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-req.done // always answered: the Run goroutine took it
}

// groupReqs is what the Run goroutine listens to for assignments: nil (no
// assignment ever) without a group.
func (b *backup) groupReqs() <-chan assignReq {
	if b.group == nil {
		return nil
	}
	return b.group.reqs
}

// ranOut tells the group the Run goroutine serves assignments no more.
func (b *backup) ranOut() {
	if b.group != nil {
		close(b.group.runDone)
	}
}

// inShare reports whether topic is this process's to back up: every
// matching topic without a group, its assigned ones with.
func (b *backup) inShare(topic string) bool {
	return b.group == nil || b.group.assigned[topic]
}

// applyAssignment, on the Run goroutine, makes topics this process's
// share: it stops and releases every topic run not among them (flushing
// what it holds first), then starts the new ones.
func (b *backup) applyAssignment(ctx context.Context, topics []string) error {
	want := make(map[string]bool, len(topics))
	for _, t := range topics {
		want[t] = true
	}
	var revoked []string
	for n := range b.topics {
		if !want[n] {
			revoked = append(revoked, n)
		}
	}
	sort.Strings(revoked)
	for _, n := range revoked {
		b.releaseTopic(b.topics[n])
	}
	for n := range want {
		if !b.group.assigned[n] {
			delete(b.lost, n) // given back to us: try its lease again
		}
	}
	b.group.assigned = want
	// Starts the new topics, and tells the Observer the new share (the
	// readiness check must not wait for revoked ones).
	return b.discover(ctx, false)
}

// releaseTopic stops a topic this process no longer backs up: its writers
// store what they hold, then the lease is released for the next owner,
// which resumes from what storage holds.
func (b *backup) releaseTopic(t *topicRun) {
	b.unconsume(t)
	err := t.stop()
	t.unwatch()
	if err != nil {
		b.opts.Logger.Warn("revoked topic did not store all it held; its next owner fetches it again", "topic", t.name, "err", err)
	}
	// Logged before the release: every write of this process to the
	// topic is done, and nobody else holds its lease yet.
	b.opts.Logger.Info("releasing lease", "topic", t.name, "reason", "revoked")
	if rerr := t.lease.Release(b.wctx); rerr != nil {
		b.opts.Logger.Warn("release lease", "topic", t.name, "err", rerr)
	}
	b.opts.Observer.LeaseEnded(t.name, err != nil && t.lease.Err() != nil)
	delete(b.topics, t.name)
	b.done = append(b.done, t)
}

// checkGroupOptions rejects settings a group member cannot honour.
func (o *Options) checkGroupOptions() error {
	if o.GroupID != "" && o.Once {
		return fmt.Errorf("group %q shares a daemon's topics with other daemons: a group member cannot run once (drop --once or --group-id)", o.GroupID)
	}
	return nil
}
