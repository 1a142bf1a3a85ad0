package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Group membership
//
// RunGroup makes this process one member of a Kafka group of kbackup
// daemons, speaking the group protocol (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup) directly with its own protocol type, as Kafka Connect does:
// the group coordinator is the only distributed engine involved. The units
// of work are topics, not partitions, and the group stores no offsets.
//
// Rebalances are incremental and cooperative, as in KIP-429: a member keeps
// its topics while it rejoins and tells the leader which it holds; the
// leader's Balance never hands a held topic to another member in the same
// round, it only takes it away; the member that lost it releases it
// (GroupOptions.Apply) and then rejoins at once, which starts the next
// round, where the topic is free and is handed out. So a topic is never
// assigned to two members, and one whose holder is gone (left or session
// expired) is handed out at once.

const (
	groupProtocolType = "kbackup"
	groupProtocol     = "kbackup-topics-v1"
)

// GroupMember is one member of a group as the leader sees it when it
// divides the work.
type GroupMember struct {
	ID string
	// Owned are the topics the member holds and has not released.
	Owned []string
	// Generation is the generation in which it was given them: when two
	// members claim one topic (one was expelled and has not noticed yet),
	// the newer claim wins.
	Generation int32
	// Rates are the bytes per second the member recently consumed from
	// each topic it holds (GroupOptions.Rates); absent topics are unknown.
	Rates map[string]int64
}

// GroupOptions configures RunGroup.
type GroupOptions struct {
	// Group is the group's name; every daemon started with it shares
	// the work.
	Group string
	// SessionTimeout is how long the coordinator waits without a
	// heartbeat before it expels a member (default 10s; Kafka brokers
	// accept 6s to 30m by default).
	SessionTimeout time.Duration
	// RebalanceTimeout is how long the coordinator waits for members to
	// rejoin when a rebalance starts (default 60s). A member that lost
	// topics rejoins once it has released them: this bounds that.
	RebalanceTimeout time.Duration
	// Work lists, on the leader, the topics to divide with their weights
	// (partition counts). The leader calls it at each rebalance and every
	// CheckInterval, and starts a rebalance when its answer changes.
	Work func(ctx context.Context) (map[string]int32, error)
	// CheckInterval is how often the leader looks for changed work
	// (default 5s).
	CheckInterval time.Duration
	// Rates, if set, reports this member's recent bytes per second per
	// topic it holds; it is sent to the leader at each join, for Balance
	// to weigh topics by their traffic as well as their partitions.
	Rates func() map[string]int64
	// Balance divides work among members; it must never give a topic
	// owned by one member to another (only take it away).
	Balance func(members []GroupMember, work map[string]int32) map[string][]string
	// Apply gives this member its topics: it must have released every
	// topic it held and is not in topics before it returns, and may start
	// the new ones in the background. An error stops the membership (the
	// process is stopping).
	Apply func(ctx context.Context, topics []string) error
	// Logger receives rebalances (default: discard).
	Logger *slog.Logger
}

// groupMeta is what a member tells the leader when it joins.
type groupMeta struct {
	Owned      []string         `json:"owned"`
	Generation int32            `json:"generation"`
	Rates      map[string]int64 `json:"rates,omitempty"`
}

// groupAssignment is what the leader tells a member.
type groupAssignment struct {
	Topics []string `json:"topics"`
}

// errExpelled means the coordinator no longer knows this member.
var errExpelled = errors.New("expelled from the group")

type member struct {
	cl       *kgo.Client
	o        GroupOptions
	id       string
	gen      int32
	owned    []string // as last applied
	ownedGen int32
	leader   bool
	work     map[string]int32 // what the leader divided last
}

// RunGroup joins the group and keeps this process's share of the work
// applied until ctx is cancelled; it then leaves the group, so that the
// others rebalance at once, and returns nil. It returns an error wrapping
// ErrGroupRefused when the coordinator will never accept this member. cl should serve nothing else:
// a JoinGroup waits at the coordinator for the whole rebalance.
func RunGroup(ctx context.Context, cl *kgo.Client, o GroupOptions) error {
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 10 * time.Second
	}
	if o.RebalanceTimeout <= 0 {
		o.RebalanceTimeout = time.Minute
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &member{cl: cl, o: o}
	defer m.leave()
	for ctx.Err() == nil {
		topics, err := m.join(ctx)
		if errors.Is(err, ErrGroupRefused) {
			return err
		}
		if errors.Is(err, errExpelled) {
			if err := m.expelled(ctx, err); err != nil {
				<-ctx.Done()
				break
			}
			continue
		}
		if errors.Is(err, kerr.RebalanceInProgress) {
			continue // another member joined meanwhile: rejoin at once
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			// Briefly: a member neither heartbeating nor joining for a
			// session timeout is expelled.
			m.o.Logger.Warn("group join failed (retrying)", "group", o.Group, "err", err)
			sleep(ctx, min(time.Second, o.SessionTimeout/4))
			continue
		}
		if err := m.stable(ctx, topics); err != nil {
			<-ctx.Done() // the process is stopping: leave once it has
			break
		}
	}
	return nil
}

// stable applies topics and heartbeats until a rebalance is due. It
// returns an error only when Apply fails.
func (m *member) stable(ctx context.Context, topics []string) error {
	hctx, stop := context.WithCancel(ctx)
	beat := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		beat <- m.heartbeat(hctx)
	}()
	defer func() {
		stop()
		wg.Wait()
	}()
	revoked := len(without(m.owned, topics)) > 0
	if err := m.o.Apply(ctx, topics); err != nil {
		return err
	}
	m.owned, m.ownedGen = topics, m.gen
	if revoked {
		return nil // rejoin at once: it tells the leader the topics are free
	}
	var err error
	select {
	case err = <-beat:
	case <-ctx.Done():
		return nil
	}
	if errors.Is(err, errExpelled) {
		return m.expelled(ctx, err)
	}
	return nil
}

// expelled releases every topic, since others may hold them by now (each
// write is fenced by its lease anyway), and makes the next join that of a
// new member.
func (m *member) expelled(ctx context.Context, err error) error {
	m.o.Logger.Warn("expelled from the group: releasing every topic and joining again", "group", m.o.Group, "err", err)
	m.id, m.owned, m.ownedGen = "", nil, 0
	return m.o.Apply(ctx, nil)
}

// join runs one JoinGroup and SyncGroup round and returns this member's
// topics.
func (m *member) join(ctx context.Context) ([]string, error) {
	gm := groupMeta{Owned: m.owned, Generation: m.ownedGen}
	if m.o.Rates != nil {
		gm.Rates = m.o.Rates()
	}
	meta, _ := json.Marshal(gm)
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = m.o.Group
	req.SessionTimeoutMillis = int32(m.o.SessionTimeout.Milliseconds())
	req.RebalanceTimeoutMillis = int32(m.o.RebalanceTimeout.Milliseconds())
	req.ProtocolType = groupProtocolType
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = groupProtocol, meta
	req.Protocols = append(req.Protocols, p)
	var resp *kmsg.JoinGroupResponse
	for {
		req.MemberID = m.id
		var err error
		if resp, err = req.RequestWith(ctx, m.cl); err != nil {
			return nil, fmt.Errorf("join group %s: %w", m.o.Group, err)
		}
		err = kerr.ErrorForCode(resp.ErrorCode)
		switch {
		case errors.Is(err, kerr.MemberIDRequired):
			m.id = resp.MemberID
			continue
		case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration):
			return nil, fmt.Errorf("%w: %w", errExpelled, err)
		case err != nil:
			return nil, refused(m.o, err)
		}
		break
	}
	m.id, m.gen = resp.MemberID, resp.Generation
	m.leader = resp.LeaderID == m.id
	sreq := kmsg.NewPtrSyncGroupRequest()
	sreq.Group, sreq.Generation, sreq.MemberID = m.o.Group, m.gen, m.id
	sreq.ProtocolType, sreq.Protocol = kmsg.StringPtr(groupProtocolType), kmsg.StringPtr(groupProtocol)
	if m.leader {
		as, err := m.divide(ctx, resp.Members)
		if err != nil {
			return nil, err
		}
		sreq.GroupAssignment = as
	}
	sresp, err := sreq.RequestWith(ctx, m.cl)
	if err != nil {
		return nil, fmt.Errorf("sync group %s: %w", m.o.Group, err)
	}
	if err := kerr.ErrorForCode(sresp.ErrorCode); err != nil {
		if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) {
			return nil, fmt.Errorf("sync group %s: %w: %w", m.o.Group, errExpelled, err)
		}
		return nil, fmt.Errorf("sync group %s: %w", m.o.Group, err)
	}
	var a groupAssignment
	if len(sresp.MemberAssignment) > 0 {
		if err := json.Unmarshal(sresp.MemberAssignment, &a); err != nil {
			return nil, fmt.Errorf("group %s: assignment from the leader: %w", m.o.Group, err)
		}
	}
	m.o.Logger.Info("group assignment", "group", m.o.Group, "generation", m.gen, "member", m.id,
		"leader", m.leader, "topics", len(a.Topics), "revoked", len(without(m.owned, a.Topics)))
	return a.Topics, nil
}

// divide is the leader's part of a round: it lists the work and balances
// it over the members.
func (m *member) divide(ctx context.Context, joined []kmsg.JoinGroupResponseMember) ([]kmsg.SyncGroupRequestGroupAssignment, error) {
	work, err := m.o.Work(ctx)
	if err != nil {
		return nil, fmt.Errorf("group %s: list the topics to divide: %w", m.o.Group, err)
	}
	m.work = work
	members := make([]GroupMember, 0, len(joined))
	for _, j := range joined {
		var meta groupMeta
		if err := json.Unmarshal(j.ProtocolMetadata, &meta); err != nil {
			m.o.Logger.Warn("group member sent unreadable metadata; treating it as holding nothing", "member", j.MemberID, "err", err)
		}
		members = append(members, GroupMember{ID: j.MemberID, Owned: meta.Owned, Generation: meta.Generation, Rates: meta.Rates})
	}
	plan := m.o.Balance(members, work)
	out := make([]kmsg.SyncGroupRequestGroupAssignment, 0, len(members))
	for _, gm := range members {
		b, _ := json.Marshal(groupAssignment{Topics: plan[gm.ID]})
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID, a.MemberAssignment = gm.ID, b
		out = append(out, a)
	}
	return out, nil
}

// heartbeat keeps the membership alive until a rebalance is due (nil), the
// coordinator has expelled this member (errExpelled) or ctx ends. The
// leader also starts a rebalance when the work changes.
func (m *member) heartbeat(ctx context.Context) error {
	// Kafka's convention is a third of the session timeout; at most a
	// second here, since a rebalance waits for every member to see it in a
	// heartbeat answer, and a heartbeat is one small request.
	wait := m.o.SessionTimeout / 3
	every := min(wait, time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	check := time.NewTicker(m.o.CheckInterval)
	defer check.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-check.C:
			if !m.leader {
				continue
			}
			if w, err := m.o.Work(ctx); err == nil && !maps.Equal(w, m.work) {
				m.o.Logger.Info("topics changed: rebalancing the group", "group", m.o.Group, "topics", len(w))
				return nil
			}
		case <-tick.C:
			req := kmsg.NewPtrHeartbeatRequest()
			req.Group, req.Generation, req.MemberID = m.o.Group, m.gen, m.id
			rctx, cancel := context.WithTimeout(ctx, wait)
			resp, err := req.RequestWith(rctx, m.cl)
			cancel()
			if err == nil {
				err = kerr.ErrorForCode(resp.ErrorCode)
			}
			switch {
			case err == nil:
				lastOK = time.Now()
			case errors.Is(err, kerr.RebalanceInProgress):
				return nil
			case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.FencedInstanceID):
				return fmt.Errorf("%w: %w", errExpelled, err)
			case ctx.Err() != nil:
				return ctx.Err()
			case time.Since(lastOK) > m.o.SessionTimeout:
				// The coordinator has expelled us by now, whether or not
				// it can tell us.
				return fmt.Errorf("%w: no heartbeat answered for %s: %w", errExpelled, m.o.SessionTimeout, err)
			}
		}
	}
}

// leave tells the coordinator this member is gone, so that the others need
// not wait for its session to expire.
func (m *member) leave() {
	if m.id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = m.o.Group
	req.MemberID = m.id
	mi := kmsg.NewLeaveGroupRequestMember()
	mi.MemberID = m.id
	req.Members = append(req.Members, mi)
	if _, err := req.RequestWith(ctx, m.cl); err != nil {
		m.o.Logger.Warn("leave group failed; the others wait for the session timeout", "group", m.o.Group, "err", err)
	}
}

// refused explains a JoinGroup error, wrapping ErrGroupRefused when
// trying again cannot help.
func refused(o GroupOptions, err error) error {
	switch {
	case errors.Is(err, kerr.InvalidSessionTimeout):
		return fmt.Errorf("%w: group %s: the brokers refuse a session timeout of %s (their group.min.session.timeout.ms and group.max.session.timeout.ms bound it, 6s to 30m by default)", ErrGroupRefused, o.Group, o.SessionTimeout)
	case errors.Is(err, kerr.InconsistentGroupProtocol):
		return fmt.Errorf("%w: group %s is in use by clients of another kind (a consumer group?): choose another group name", ErrGroupRefused, o.Group)
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return fmt.Errorf("%w: not authorised to join group %s: grant the principal Read on the group", ErrGroupRefused, o.Group)
	case errors.Is(err, kerr.InvalidGroupID):
		return fmt.Errorf("%w: group name %q is not valid", ErrGroupRefused, o.Group)
	}
	return fmt.Errorf("join group %s: %w", o.Group, err)
}

// without returns the elements of a not in b.
func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
