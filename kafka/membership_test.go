package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbackup/kbackup/kafka"
)

// cooperative is a minimal balancer honouring GroupOptions.Balance's
// contract: members keep what they hold, free topics go to the member with
// the fewest, and a topic leaves a member with too many without being given
// to anyone in the same round.
func cooperative(members []kafka.GroupMember, work map[string]int32) map[string][]string {
	out := map[string][]string{}
	held := map[string]bool{}
	for _, m := range members {
		for _, t := range m.Owned {
			if _, ok := work[t]; ok && !held[t] {
				held[t] = true
				out[m.ID] = append(out[m.ID], t)
			}
		}
	}
	fewest := func() string {
		best := members[0].ID
		for _, m := range members {
			if len(out[m.ID]) < len(out[best]) || len(out[m.ID]) == len(out[best]) && m.ID < best {
				best = m.ID
			}
		}
		return best
	}
	var free []string
	for t := range work {
		if !held[t] {
			free = append(free, t)
		}
	}
	sort.Strings(free)
	for _, t := range free {
		id := fewest()
		out[id] = append(out[id], t)
	}
	ceil := (len(work) + len(members) - 1) / len(members)
	for _, m := range members {
		if n := len(out[m.ID]); n > ceil {
			out[m.ID] = out[m.ID][:ceil]
		}
	}
	return out
}

// holders records which member holds which topic, as Apply calls report it.
type holders struct {
	mu       sync.Mutex
	t        *testing.T
	by       map[string]string // topic → member
	overlaps atomic.Int32      // topics given while another member held them
	strict   atomic.Bool       // an overlap fails the test
}

func (h *holders) apply(name string) func(context.Context, []string) error {
	return func(_ context.Context, topics []string) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		for t, m := range h.by {
			if m == name && !slices.Contains(topics, t) {
				delete(h.by, t)
			}
		}
		for _, t := range topics {
			if m, ok := h.by[t]; ok && m != name {
				h.overlaps.Add(1)
				if h.strict.Load() {
					h.t.Errorf("topic %s given to %s while %s holds it", t, name, m)
				}
			}
			h.by[t] = name
		}
		return nil
	}
}

// releaseAll is what a stopping backup does before it leaves the group.
func (h *holders) releaseAll(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for t, m := range h.by {
		if m == name {
			delete(h.by, t)
		}
	}
}

// settled reports whether every topic is held, each by one of live, and
// each of live holds some.
func (h *holders) settled(work map[string]int32, live ...string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	count := map[string]int{}
	for t := range work {
		m, ok := h.by[t]
		if !ok || !slices.Contains(live, m) {
			return false
		}
		count[m]++
	}
	for _, m := range live {
		if count[m] == 0 {
			return false
		}
	}
	return true
}

func (h *holders) count(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.by {
		if m == name {
			n++
		}
	}
	return n
}

// TestGroupMembership runs members of one group on kfake: they divide the
// topics with no topic ever given to two members, rebalance when a member
// joins or leaves, and when a member's heartbeats stop reaching the
// coordinator (paused, cut off) the others take its topics after the
// session timeout while it, noticing, releases all of them and joins again.
func TestGroupMembership(t *testing.T) {
	const session = time.Second
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(session/2))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	work := map[string]int32{}
	for i := range 10 {
		work[fmt.Sprintf("t%d", i)] = 1
	}
	h := &holders{t: t, by: map[string]string{}}
	h.strict.Store(true)
	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	members := map[string]*running{}
	start := func(name string) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ClientID(name))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &running{cancel: cancel, done: make(chan struct{})}
		members[name] = r
		go func() {
			defer close(r.done)
			defer cl.Close()
			_ = kafka.RunGroup(ctx, cl, kafka.GroupOptions{Group: "g", SessionTimeout: session, CheckInterval: 200 * time.Millisecond,
				Work:    func(context.Context) (map[string]int32, error) { return work, nil },
				Balance: cooperative, Apply: h.apply(name)})
		}()
	}
	stop := func(name string) {
		r := members[name]
		r.cancel()
		<-r.done
		h.releaseAll(name)
	}
	defer func() {
		for n, r := range members {
			r.cancel()
			<-r.done
			delete(members, n)
		}
	}()
	settle := func(what string, limit time.Duration, live ...string) {
		t.Helper()
		began := time.Now()
		for !h.settled(work, live...) {
			if time.Since(began) > limit {
				t.Fatalf("%s: not settled after %s: %v", what, limit, h.by)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s: settled in %s", what, time.Since(began).Round(time.Millisecond))
	}

	start("a")
	start("b")
	start("victim")
	settle("3 members", 10*time.Second, "a", "b", "victim")
	start("d")
	settle("a 4th joins", 10*time.Second, "a", "b", "victim", "d")
	stop("a")
	settle("one leaves", 10*time.Second, "b", "victim", "d")

	// Cut the victim's heartbeats off: it keeps its topics until it
	// notices, so here the group alone cannot prevent two holders; the
	// lease is what fences the writes (engine/backup).
	var cut atomic.Bool
	cut.Store(true)
	c.ControlKey(int16(kmsg.Heartbeat), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.HeartbeatRequest)
		if !cut.Load() || !strings.HasPrefix(req.MemberID, "victim") {
			return nil, nil, false
		}
		return nil, fmt.Errorf("heartbeat of %s dropped", req.MemberID), true
	})
	h.strict.Store(false)
	began := time.Now()
	for h.count("b")+h.count("d") < len(work) {
		if time.Since(began) > session+5*time.Second {
			t.Fatalf("the others did not take the victim's topics within the session timeout + 5s: %v", h.by)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("victim cut off: the others hold every topic after %s", time.Since(began).Round(time.Millisecond))
	// The victim, with no heartbeat answered for a session timeout, knows
	// it is expelled and releases everything.
	for h.count("victim") > 0 {
		if time.Since(began) > session+5*time.Second {
			t.Fatalf("the victim still holds %d topics %s after it was cut off", h.count("victim"), time.Since(began))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("victim released its topics after %s; topics held by two meanwhile: %d", time.Since(began).Round(time.Millisecond), h.overlaps.Load())
	cut.Store(false)
	settle("victim back", 2*session+10*time.Second, "b", "victim", "d")
	// Once back, hand-overs are clean again.
	h.strict.Store(true)
	stop("d")
	settle("d leaves", 10*time.Second, "b", "victim")
}

// TestGroupRefused: a session timeout the brokers refuse, and a group name
// a consumer group already uses, stop RunGroup with ErrGroupRefused instead
// of retrying forever.
func TestGroupRefused(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	consumer, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup("taken"), kgo.ConsumeTopics("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !joined(consumer) {
		if ctx.Err() != nil {
			t.Fatal("the consumer group never formed")
		}
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		consumer.PollRecords(pctx, 1)
		pcancel()
	}
	for _, tc := range []struct {
		name, group string
		session     time.Duration
		want        string
	}{
		{"session timeout below the brokers' minimum", "g", time.Second, "refuse a session timeout of 1s"},
		{"a consumer group's name", "taken", 10 * time.Second, "in use by clients of another kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			err = kafka.RunGroup(ctx, cl, kafka.GroupOptions{Group: tc.group, SessionTimeout: tc.session,
				Work:    func(context.Context) (map[string]int32, error) { return nil, nil },
				Balance: cooperative, Apply: func(context.Context, []string) error { return nil }})
			if !errors.Is(err, kafka.ErrGroupRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("RunGroup: %v, want ErrGroupRefused saying %q", err, tc.want)
			}
		})
	}
}

// joined reports whether cl's consumer group has a generation.
func joined(cl *kgo.Client) bool {
	_, gen := cl.GroupMetadata()
	return gen > 0
}
