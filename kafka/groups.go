package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// CommittedOffset is the offset one consumer group committed on one
// partition.
type CommittedOffset struct {
	Group       string
	Topic       string
	Partition   int32
	Offset      int64 // the next record the group would read
	LeaderEpoch int32 // -1 when unknown
	Metadata    string
}

// GroupOffsets is one fetch of the committed offsets of several groups.
type GroupOffsets struct {
	// Offsets holds, per topic, every committed offset of the fetched
	// groups, ordered by group then partition.
	Offsets map[string][]CommittedOffset
	// Denied lists the groups whose offsets this client may not read
	// (group authorization failed); their offsets are absent.
	Denied []string
}

// Groups lists the names of the cluster's consumer groups, sorted.
func (a *Admin) Groups(ctx context.Context) ([]string, error) {
	lg, err := a.adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list consumer groups: %w", err)
	}
	return lg.Groups(), nil
}

// CommittedOffsets fetches the committed offsets of groups from their
// coordinators, batched per coordinator. A group that does not exist (any
// more) has no offsets. Any other error of one group fails the fetch, so
// that a caller never takes a partial answer for the whole one; groups
// this client is not authorized to read are listed in Denied instead.
func (a *Admin) CommittedOffsets(ctx context.Context, groups []string) (*GroupOffsets, error) {
	out := &GroupOffsets{Offsets: map[string][]CommittedOffset{}}
	if len(groups) == 0 {
		return out, nil
	}
	fetched := a.adm.FetchManyOffsets(ctx, groups...)
	for _, g := range groups {
		r, ok := fetched[g]
		if !ok {
			return nil, fmt.Errorf("committed offsets of group %s: no answer from its coordinator", g)
		}
		switch {
		case r.Err == nil:
		case errors.Is(r.Err, kerr.GroupIDNotFound):
			continue
		case errors.Is(r.Err, kerr.GroupAuthorizationFailed):
			out.Denied = append(out.Denied, g)
			continue
		default:
			return nil, fmt.Errorf("committed offsets of group %s: %w", g, r.Err)
		}
		for topic, ps := range r.Fetched {
			for p, o := range ps {
				if o.Err != nil {
					return nil, fmt.Errorf("committed offset of group %s on %s/%d: %w", g, topic, p, o.Err)
				}
				if o.At < 0 {
					continue // nothing committed
				}
				out.Offsets[topic] = append(out.Offsets[topic], CommittedOffset{Group: g, Topic: topic, Partition: p,
					Offset: o.At, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata})
			}
		}
	}
	for _, os := range out.Offsets {
		sort.Slice(os, func(i, j int) bool {
			if os[i].Group != os[j].Group {
				return os[i].Group < os[j].Group
			}
			return os[i].Partition < os[j].Partition
		})
	}
	return out, nil
}

// LogRanges returns, per topic and partition, the log start offset and
// the log end offset (high watermark), in one listing each. Partitions
// whose offsets could not be listed are absent.
func (a *Admin) LogRanges(ctx context.Context, topics []string) (starts, ends map[string]map[int32]int64, err error) {
	lo, err := a.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("start offsets: %w", err)
	}
	starts = listed(lo, func(o kadm.ListedOffset) int64 { return o.Offset })
	if lo, err = a.adm.ListEndOffsets(ctx, topics...); err != nil {
		return nil, nil, fmt.Errorf("end offsets: %w", err)
	}
	ends = listed(lo, func(o kadm.ListedOffset) int64 { return o.Offset })
	return starts, ends, nil
}

// GroupState is a consumer group's state as its coordinator reports it:
// "Empty", "Stable", "PreparingRebalance", … or "Dead" for a group that
// does not exist. Members counts its members.
type GroupState struct {
	State   string
	Members int
}

// GroupState describes group.
func (a *Admin) GroupState(ctx context.Context, group string) (GroupState, error) {
	ds, err := a.adm.DescribeGroups(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return GroupState{State: "Dead"}, nil
	}
	if err != nil {
		return GroupState{}, fmt.Errorf("describe consumer group %s: %w", group, err)
	}
	d, ok := ds[group]
	if !ok {
		return GroupState{State: "Dead"}, nil
	}
	if d.Err != nil {
		if errors.Is(d.Err, kerr.GroupIDNotFound) {
			return GroupState{State: "Dead"}, nil
		}
		return GroupState{}, fmt.Errorf("describe consumer group %s: %w", group, d.Err)
	}
	return GroupState{State: d.State, Members: len(d.Members)}, nil
}

// GroupOffsets returns group's committed offsets on topic by partition.
func (a *Admin) GroupOffsets(ctx context.Context, group, topic string) (map[int32]CommittedOffset, error) {
	rs, err := a.adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return map[int32]CommittedOffset{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of consumer group %s: %w", group, err)
	}
	out := map[int32]CommittedOffset{}
	for p, r := range rs[topic] {
		if errors.Is(r.Err, kerr.GroupIDNotFound) {
			continue
		}
		if r.Err != nil {
			return nil, fmt.Errorf("fetch offsets of consumer group %s on %s partition %d: %w", group, topic, p, r.Err)
		}
		if r.At >= 0 {
			out[p] = CommittedOffset{Offset: r.At, Metadata: r.Metadata}
		}
	}
	return out, nil
}

// CommitGroupOffsets commits offsets for group on topic. The group must
// have no members (the coordinator refuses a commit outside a generation
// otherwise).
func (a *Admin) CommitGroupOffsets(ctx context.Context, group, topic string, offsets map[int32]CommittedOffset) error {
	var os kadm.Offsets
	for p, o := range offsets {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: o.Offset, LeaderEpoch: -1, Metadata: o.Metadata})
	}
	rs, err := a.adm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = rs.Error()
	}
	if err != nil {
		return fmt.Errorf("commit offsets of consumer group %s on %s: %w", group, topic, err)
	}
	return nil
}

// DeleteGroupOffsets removes group's committed offsets of partitions of
// topic.
func (a *Admin) DeleteGroupOffsets(ctx context.Context, group, topic string, partitions []int32) error {
	var s kadm.TopicsSet
	s.Add(topic, partitions...)
	rs, err := a.adm.DeleteOffsets(ctx, group, s)
	if err == nil {
		err = rs.Error()
	}
	if err != nil {
		return fmt.Errorf("delete offsets of consumer group %s on %s: %w", group, topic, err)
	}
	return nil
}
