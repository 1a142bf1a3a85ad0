package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

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

// CommittedOffset is a group's committed offset of one partition.
type CommittedOffset struct {
	Offset   int64
	Metadata string
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
