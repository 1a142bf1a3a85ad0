package restore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// GroupsOptions selects the consumer groups PlanGroups, ApplyGroups and
// RollbackGroups act on, for a restore that already finished.
type GroupsOptions struct {
	// Target is the topic the restore wrote; its state file (saved on
	// this machine, in StateDir) names the snapshot and holds the maps.
	Target string
	// Groups selects and renames the groups (Include must not be empty
	// for plan and apply).
	Groups ConsumerGroups
	// At picks the newest capture at or before it (zero: the newest).
	At time.Time
	// StateDir is Options.StateDir of the restore.
	StateDir string
}

// ErrNoCapture means the snapshot holds no consumer-group capture at or
// before the time asked for.
var ErrNoCapture = errors.New("no consumer-group capture")

// groupsSession is a connection to the target and its state.
type groupsSession struct {
	adm   *kafka.Admin
	close func()
	state *TargetState
	maps  map[int32]*PartitionMap
	dir   string
}

func openGroups(ctx context.Context, kcfg *kafka.Config, o GroupsOptions) (*groupsSession, error) {
	if o.Target == "" {
		return nil, fmt.Errorf("%w: name the restored target topic", ErrInvalidSpec)
	}
	cl, err := kafka.NewClient(ctx, kcfg)
	if err != nil {
		return nil, err
	}
	adm := kafka.NewAdmin(cl)
	cluster, err := adm.ClusterID(ctx)
	if err != nil {
		cl.Close()
		return nil, err
	}
	st, err := LoadState(o.StateDir, cluster, o.Target)
	if err != nil {
		cl.Close()
		return nil, err
	}
	maps, err := st.OffsetMaps()
	if err != nil {
		cl.Close()
		return nil, err
	}
	return &groupsSession{adm: adm, close: cl.Close, state: st, maps: maps, dir: o.StateDir}, nil
}

func (s *groupsSession) save(gs *GroupsState) error {
	s.state.Groups = gs
	s.state.Updated = time.Now().UTC()
	return SaveState(s.dir, s.state)
}

// PlanGroups translates the selected groups' captured offsets for the
// finished restore into o.Target and says what ApplyGroups would do,
// changing nothing. A group with members fails with ErrGroupActive
// unless o.Groups.SkipActive.
func PlanGroups(ctx context.Context, st *store.Store, kcfg *kafka.Config, o GroupsOptions) ([]GroupOffsetPlan, error) {
	return groupsRun(ctx, st, kcfg, o, true)
}

// ApplyGroups commits what PlanGroups plans, saving what the groups had
// committed before (RollbackGroups). Running it again commits nothing
// new.
func ApplyGroups(ctx context.Context, st *store.Store, kcfg *kafka.Config, o GroupsOptions) ([]GroupOffsetPlan, error) {
	return groupsRun(ctx, st, kcfg, o, false)
}

func groupsRun(ctx context.Context, st *store.Store, kcfg *kafka.Config, o GroupsOptions, dry bool) ([]GroupOffsetPlan, error) {
	if len(o.Groups.Include) == 0 {
		return nil, fmt.Errorf("%w: select consumer groups (--groups REGEX[:TARGET])", ErrInvalidSpec)
	}
	s, err := openGroups(ctx, kcfg, o)
	if err != nil {
		return nil, err
	}
	defer s.close()
	rows, c, err := translateGroups(ctx, st, s.adm, s.state.Source, o.Target, s.maps, &o.Groups, o.At, s.state.Groups, s.save, dry)
	if err == nil && c == nil {
		err = fmt.Errorf("%w: snapshot %s holds no consumer-group offsets captured at or before %s", ErrNoCapture, s.state.Source, atString(o.At))
	}
	return rows, err
}

func atString(t time.Time) string {
	if t.IsZero() {
		return "now"
	}
	return t.Format(time.RFC3339)
}

// RollbackGroups puts back what the groups had committed on o.Target
// before restores committed translated offsets, and returns it. Groups
// must have no members.
func RollbackGroups(ctx context.Context, kcfg *kafka.Config, o GroupsOptions) ([]GroupCommit, error) {
	s, err := openGroups(ctx, kcfg, o)
	if err != nil {
		return nil, err
	}
	defer s.close()
	gs := s.state.Groups
	if gs == nil || len(gs.Previous) == 0 {
		return nil, fmt.Errorf("%w: no consumer-group offsets were committed on %s by a restore from this machine", ErrNoState, o.Target)
	}
	if err := rollbackGroups(ctx, s.adm, o.Target, gs, s.save); err != nil {
		return nil, err
	}
	return gs.Previous, nil
}
