package restore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// Consumer groups: once a restore's records are in the target, the offsets
// the selected groups had committed on the source (the newest capture at
// or before the restore's time cutoff) are translated through the offset
// maps (PartitionMap.Translate) and committed on the target. A group must
// have no members on the target; offsets only move forward unless
// AllowRewind; what a group had committed before is saved in the target's
// state file before anything is committed, so that RollbackGroups can put
// it back. A rerun after an interruption commits what is missing and
// arrives at the same offsets.

// ErrGroupActive means a consumer group has members on the target, so its
// offsets cannot be committed from outside.
var ErrGroupActive = errors.New("consumer group is active on the target")

// Actions of a GroupOffsetPlan.
const (
	// ActionCommit commits the target offset.
	ActionCommit = "commit"
	// ActionKeep leaves the group as it is: it has committed the target
	// offset already.
	ActionKeep = "keep"
	// ActionBehind leaves the group as it is: the target offset is behind
	// what it committed (AllowRewind commits it).
	ActionBehind = "behind"
	// ActionActive leaves the group as it is: it has members (SkipActive).
	ActionActive = "active"
)

// GroupOffsetPlan is the translation of one group's committed offset on
// one partition.
type GroupOffsetPlan struct {
	// Group is the group on the target; SourceGroup on the source.
	Group       string `json:"group"`
	SourceGroup string `json:"source_group"`
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	// SourceOffset is the offset committed on the source; TargetOffset
	// its translation.
	SourceOffset int64 `json:"source_offset"`
	TargetOffset int64 `json:"target_offset"`
	// Lag is the records the group has left to read on the target: from
	// TargetOffset to the end of the restored records.
	Lag int64 `json:"lag"`
	// Before flags a committed offset before the first restored record;
	// Skipped counts the offsets from it that were not restored.
	Before  bool  `json:"before,omitempty"`
	Skipped int64 `json:"skipped,omitempty"`
	// Current is what the group has committed on the target, -1 none.
	Current int64  `json:"current"`
	Action  string `json:"action"`
	// Metadata is the committed metadata, carried over.
	Metadata string `json:"metadata,omitempty"`
}

// GroupsReport is what a restore did with consumer groups, in its status.
type GroupsReport struct {
	// Selection is the groups asked for (a restore by copy takes every
	// group and skips active ones).
	Selection ConsumerGroups `json:"selection"`
	// Captured is the time of the capture translated; zero with Note
	// when there was none.
	Captured time.Time `json:"captured,omitzero"`
	Groups   int       `json:"groups"`
	// Committed, Kept, Behind count partitions by action; Before those
	// whose committed offset lay before the restored records.
	Committed int      `json:"committed"`
	Kept      int      `json:"kept,omitempty"`
	Behind    int      `json:"behind,omitempty"`
	Before    int      `json:"before,omitempty"`
	Active    []string `json:"active,omitempty"`
	// Unmapped lists partitions whose offset map could not be trusted
	// (acknowledgements out of order): no group is committed on them.
	Unmapped []int32 `json:"unmapped,omitempty"`
	Note     string  `json:"note,omitempty"`
}

var _ groupAdmin = (*kafka.Admin)(nil)

// groupAdmin is what committing offsets needs from the target cluster.
type groupAdmin interface {
	GroupState(ctx context.Context, group string) (kafka.GroupState, error)
	GroupOffsets(ctx context.Context, group, topic string) (map[int32]kafka.CommittedOffset, error)
	CommitGroupOffsets(ctx context.Context, group, topic string, offsets map[int32]kafka.CommittedOffset) error
	DeleteGroupOffsets(ctx context.Context, group, topic string, partitions []int32) error
}

// planGroups translates the offsets of c's selected groups into target
// through maps; partitions without a map (not restored) are left out.
func planGroups(c *store.GroupCapture, target string, maps map[int32]*PartitionMap, sel *groupMatcher) ([]GroupOffsetPlan, error) {
	var rows []GroupOffsetPlan
	from := map[string]string{}
	for _, o := range c.Offsets {
		if o.Offset < 0 {
			continue
		}
		g, ok := sel.target(o.Group)
		if !ok {
			continue
		}
		if prev, dup := from[g]; dup && prev != o.Group {
			return nil, fmt.Errorf("%w: consumer groups %s and %s would both be committed as %s: give each its own target name", ErrInvalidSpec, prev, o.Group, g)
		}
		from[g] = o.Group
		m := maps[o.Partition]
		if m == nil {
			continue
		}
		tr := m.Translate(o.Offset)
		rows = append(rows, GroupOffsetPlan{Group: g, SourceGroup: o.Group, Topic: target, Partition: o.Partition,
			SourceOffset: o.Offset, TargetOffset: tr.Target, Lag: m.End - tr.Target, Before: tr.Before, Skipped: tr.Skipped,
			Current: -1, Metadata: o.Metadata})
	}
	sort.Slice(rows, func(a, b int) bool {
		if rows[a].Group != rows[b].Group {
			return rows[a].Group < rows[b].Group
		}
		return rows[a].Partition < rows[b].Partition
	})
	return rows, nil
}

// decideGroups reads each group's state and committed offsets on the
// target and sets every row's Action. A group with members fails with
// ErrGroupActive unless cg.SkipActive.
func decideGroups(ctx context.Context, adm groupAdmin, rows []GroupOffsetPlan, cg *ConsumerGroups) error {
	for _, g := range groupSpans(rows) {
		group, topic := rows[g[0]].Group, rows[g[0]].Topic
		st, err := adm.GroupState(ctx, group)
		if err != nil {
			return err
		}
		if st.State != "Empty" && st.State != "Dead" {
			if !cg.SkipActive {
				return fmt.Errorf("%w: consumer group %s is %s with %d members on the target: stop its consumers, then run kbackup groups apply",
					ErrGroupActive, group, st.State, st.Members)
			}
			for i := g[0]; i < g[1]; i++ {
				rows[i].Action = ActionActive
			}
			continue
		}
		cur, err := adm.GroupOffsets(ctx, group, topic)
		if err != nil {
			return err
		}
		for i := g[0]; i < g[1]; i++ {
			r := &rows[i]
			if c, ok := cur[r.Partition]; ok {
				r.Current = c.Offset
			}
			switch {
			case r.Current == r.TargetOffset:
				r.Action = ActionKeep
			case r.Current > r.TargetOffset && !cg.AllowRewind:
				r.Action = ActionBehind
			default:
				r.Action = ActionCommit
			}
		}
	}
	return nil
}

// groupSpans returns the [start, end) spans of rows sorted by group.
func groupSpans(rows []GroupOffsetPlan) [][2]int {
	var out [][2]int
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].Group == rows[i].Group {
			j++
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}

// commitGroupRows commits the rows whose Action is ActionCommit. What each
// group had committed on those partitions is added to gs.Previous (once:
// a rerun keeps what the first run saved) and saved before anything is
// committed; every group committed is saved after its commit.
func commitGroupRows(ctx context.Context, adm groupAdmin, rows []GroupOffsetPlan, gs *GroupsState, save func(*GroupsState) error) error {
	had := map[string]map[int32]bool{}
	for _, p := range gs.Previous {
		if had[p.Group] == nil {
			had[p.Group] = map[int32]bool{}
		}
		had[p.Group][p.Partition] = true
	}
	for _, r := range rows {
		if r.Action != ActionCommit || had[r.Group][r.Partition] {
			continue
		}
		gs.Previous = append(gs.Previous, GroupCommit{Group: r.Group, Partition: r.Partition, Offset: r.Current})
	}
	if err := save(gs); err != nil {
		return fmt.Errorf("save the consumer groups' previous offsets before committing: %w", err)
	}
	for _, g := range groupSpans(rows) {
		group, topic := rows[g[0]].Group, rows[g[0]].Topic
		offs := map[int32]kafka.CommittedOffset{}
		for i := g[0]; i < g[1]; i++ {
			if rows[i].Action == ActionCommit {
				offs[rows[i].Partition] = kafka.CommittedOffset{Offset: rows[i].TargetOffset, Metadata: rows[i].Metadata}
			}
		}
		if len(offs) == 0 {
			continue
		}
		if err := adm.CommitGroupOffsets(ctx, group, topic, offs); err != nil {
			return err
		}
		for p, o := range offs {
			gs.Committed = setCommit(gs.Committed, GroupCommit{Group: group, Partition: p, Offset: o.Offset})
		}
		if err := save(gs); err != nil {
			return err
		}
	}
	return nil
}

// setCommit replaces or adds c in cs.
func setCommit(cs []GroupCommit, c GroupCommit) []GroupCommit {
	for i := range cs {
		if cs[i].Group == c.Group && cs[i].Partition == c.Partition {
			cs[i] = c
			return cs
		}
	}
	return append(cs, c)
}

// rollbackGroups commits gs.Previous again (deleting the offsets of
// partitions a group had none on) and forgets gs.Committed. Every group
// must be without members.
func rollbackGroups(ctx context.Context, adm groupAdmin, topic string, gs *GroupsState, save func(*GroupsState) error) error {
	byGroup := map[string][]GroupCommit{}
	var groups []string
	for _, p := range gs.Previous {
		if byGroup[p.Group] == nil {
			groups = append(groups, p.Group)
		}
		byGroup[p.Group] = append(byGroup[p.Group], p)
	}
	sort.Strings(groups)
	for _, g := range groups {
		st, err := adm.GroupState(ctx, g)
		if err != nil {
			return err
		}
		if st.State != "Empty" && st.State != "Dead" {
			return fmt.Errorf("%w: consumer group %s is %s with %d members on the target: stop its consumers, then roll back", ErrGroupActive, g, st.State, st.Members)
		}
		offs := map[int32]kafka.CommittedOffset{}
		var none []int32
		for _, p := range byGroup[g] {
			if p.Offset < 0 {
				none = append(none, p.Partition)
			} else {
				offs[p.Partition] = kafka.CommittedOffset{Offset: p.Offset, Metadata: p.Metadata}
			}
		}
		if len(offs) > 0 {
			if err := adm.CommitGroupOffsets(ctx, g, topic, offs); err != nil {
				return err
			}
		}
		if len(none) > 0 {
			if err := adm.DeleteGroupOffsets(ctx, g, topic, none); err != nil {
				return err
			}
		}
	}
	gs.Committed = nil
	return save(gs)
}

// translateGroups plans and (unless dry) commits the groups of cg for one
// restored topic: source loc into target, with maps; gs is the target's
// saved GroupsState (nil: none) and save persists it. The capture is the
// newest at or before at (zero: the newest); none returns no rows and a
// nil capture.
func translateGroups(ctx context.Context, st *store.Store, adm groupAdmin, loc store.Loc, target string, maps map[int32]*PartitionMap,
	cg *ConsumerGroups, at time.Time, gs *GroupsState, save func(*GroupsState) error, dry bool) ([]GroupOffsetPlan, *store.GroupCapture, error) {
	sel, err := cg.compile()
	if err != nil {
		return nil, nil, err
	}
	c, err := st.GroupCaptureAt(ctx, loc, at)
	if store.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("consumer-group offsets of %s: %w", loc, err)
	}
	rows, err := planGroups(c, target, maps, sel)
	if err != nil {
		return nil, c, err
	}
	if err := decideGroups(ctx, adm, rows, cg); err != nil || dry {
		return rows, c, err
	}
	if gs == nil {
		gs = &GroupsState{}
	}
	gs.Captured = c.Time
	return rows, c, commitGroupRows(ctx, adm, rows, gs, save)
}

// Summary says in one line what the restore did with consumer groups.
func (g *GroupsReport) Summary() string {
	if g.Note != "" {
		return g.Note
	}
	s := fmt.Sprintf("%d groups from the capture of %s: %d offsets committed, %d already there, %d kept ahead, %d before the restored records",
		g.Groups, g.Captured.UTC().Format(time.RFC3339), g.Committed, g.Kept, g.Behind, g.Before)
	if len(g.Active) > 0 {
		s += fmt.Sprintf("; active on the target, left alone: %s", strings.Join(g.Active, ", "))
	}
	if len(g.Unmapped) > 0 {
		s += fmt.Sprintf("; partitions %v have no offset map, so no group was committed on them", g.Unmapped)
	}
	return s
}

// groupsReport summarises rows for the status.
func groupsReport(cg *ConsumerGroups, c *store.GroupCapture, rows []GroupOffsetPlan) *GroupsReport {
	rep := &GroupsReport{Selection: *cg}
	if c == nil {
		rep.Note = "no consumer-group offsets were captured for this snapshot (at or before the restore's time cutoff)"
		return rep
	}
	rep.Captured = c.Time
	rep.Groups = len(groupSpans(rows))
	for _, r := range rows {
		switch r.Action {
		case ActionCommit:
			rep.Committed++
		case ActionKeep:
			rep.Kept++
		case ActionBehind:
			rep.Behind++
		case ActionActive:
			if len(rep.Active) == 0 || rep.Active[len(rep.Active)-1] != r.Group {
				rep.Active = append(rep.Active, r.Group)
			}
		}
		if r.Before {
			rep.Before++
		}
	}
	return rep
}

// commitGroups commits the translated offsets of the spec's consumer
// groups for every restored topic.
func (r *restorer) commitGroups(ctx context.Context) error {
	cg := r.cfg.ConsumerGroups
	if cg == nil || len(cg.Include) == 0 {
		return nil
	}
	_, at, _ := r.cfg.window()
	for _, j := range r.jobs {
		maps := map[int32]*PartitionMap{}
		var unmapped []int32
		for _, pp := range j.plans {
			if pp.om == nil {
				continue
			}
			if m, err := pp.om.snapshot(); err == nil {
				maps[pp.p] = m
			} else {
				unmapped = append(unmapped, pp.p)
			}
		}
		save := func(gs *GroupsState) error {
			j.groups = gs
			return r.saveState()
		}
		rows, c, err := translateGroups(ctx, r.st, r.adm, j.loc, j.m.TargetName(), maps, cg, at, j.groups, save, false)
		rep := groupsReport(cg, c, rows)
		rep.Unmapped = unmapped
		r.statusMu.Lock()
		j.groupsRep = rep
		r.statusMu.Unlock()
		if err != nil {
			return fmt.Errorf("topic %s: consumer groups (the records are restored; rerun to retry the commit): %w", j.m.TargetName(), err)
		}
		r.log.Info("consumer groups", "target", j.m.TargetName(), "groups", rep.Groups, "committed", rep.Committed, "kept", rep.Kept, "behind", rep.Behind)
	}
	return nil
}
