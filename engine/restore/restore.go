package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// partitionWorkers bounds how many partitions of one topic are produced
// concurrently.
const partitionWorkers = 16

// restorer is one Run call.
type restorer struct {
	st   *store.Store
	kcfg *kafka.Config
	cfg  *Config
	opts Options
	log  *slog.Logger
	now  func() time.Time

	admCl *kgo.Client
	adm   *kafka.Admin
	jobs  []*topicJob
	prods []*producer

	cluster string // the target cluster's ID, once offset maps are started

	brokerCfg map[string]string // the first broker's configs, read once (brokerDefault)
	locks     []*targetLock     // the targets' locks, held until Run returns

	cancelled bool // cancelled on purpose (ErrCancelled): not an error to log

	statusMu sync.Mutex // serialises OnStatus and guards phase, reason
	phase    Phase
	reason   string
}

// topicJob restores one source topic's snapshot into its target.
type topicJob struct {
	m          TopicMapping
	loc        store.Loc
	snap       store.Snapshot
	partitions int32
	plans      []*partPlan
	checks     bool              // preflight checks enabled
	create     bool              // target must be created
	createCfg  map[string]string // configs it is created with
	configs    map[string]string // target's effective configs
	retention  *RetentionReport  // what preflight found about the target's retention
	holds      string            // what the snapshot holds, for messages
	prod       *producer
	groups     *GroupsState  // consumer-group offsets committed on the target
	groupsRep  *GroupsReport // what commitGroups did, for the status (statusMu)
	phase      atomic.Int32
	legs       []*topicJob     // a chain's legs in order, this one among them (chain.go); nil otherwise
	leg        int             // this job's position in legs
	endBefore  map[int32]int64 // the target's end offsets before producing (nil: created or empty)
}

// Run restores spec's topics from st into the cluster kcfg. It validates
// the spec (ErrInvalidSpec, status Invalid), plans every topic from the
// storage index and runs the preflight checks of every topic before
// producing anything (ErrPreflight, status Failed), then produces. A rerun
// with the same spec after an interruption resumes without duplicating
// records (docs/restore.md, "Resume"). The result is never nil; its status
// holds the reason of a failure.
func Run(ctx context.Context, st *store.Store, kcfg *kafka.Config, spec *Spec, opts Options) (*Result, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StatusInterval <= 0 {
		opts.StatusInterval = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &restorer{st: st, kcfg: kcfg, opts: opts, log: opts.Logger, now: opts.Now}
	start := time.Now()
	err := r.run(ctx, spec)
	r.unlockTargets()
	if r.admCl != nil {
		r.admCl.Close()
	}
	return r.result(time.Since(start)), err
}

func (r *restorer) run(ctx context.Context, spec *Spec) error {
	if spec == nil {
		spec = &Spec{}
	}
	r.cfg = &spec.Spec.Config
	if err := spec.Validate(); err != nil {
		r.setPhase(Invalid, err.Error())
		return err
	}
	r.setPhase(Initializing, "")
	if err := r.initialize(ctx); err != nil {
		r.closeProducers()
		if errors.Is(context.Cause(ctx), ErrCancelled) {
			r.cancelled = true
			err = fmt.Errorf("%w before anything was produced", ErrCancelled)
		}
		ph := Failed
		if errors.Is(err, ErrInvalidSpec) {
			ph = Invalid
		}
		r.setPhase(ph, err.Error())
		return err
	}
	if r.opts.DryRun {
		r.setPhase(Ready, "")
		return nil
	}
	r.setPhase(Restoring, "")
	stop, stopSaving := r.tick(), r.saveStateEvery(stateSaveInterval)
	err := r.restoreAll(ctx)
	stopSaving()
	// Before any final phase: a rerun may start as soon as it is reported.
	r.closeProducers()
	stop()
	if serr := r.saveState(); serr != nil {
		r.log.Warn("cannot save the restore's offset maps; a rerun rebuilds them", "err", serr)
	}
	if err == nil {
		err = r.commitGroups(ctx)
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), ErrCancelled) {
			r.cancelled = true
			err = fmt.Errorf("%w: what was produced stays in the target; the same restore started again resumes", ErrCancelled)
		} else if ctx.Err() != nil {
			err = fmt.Errorf("restore interrupted (rerun the same command to resume): %w", ctx.Err())
		}
		r.setPhase(Failed, err.Error())
		return err
	}
	r.setPhase(Done, "")
	return nil
}

// initialize plans every topic, runs the preflight checks, creates missing
// targets and starts the producers. Nothing is produced before it returns.
func (r *restorer) initialize(ctx context.Context) error {
	cl, err := kafka.NewClient(ctx, r.kcfg)
	if err != nil {
		return err
	}
	r.admCl, r.adm = cl, kafka.NewAdmin(cl)
	tFrom, tUntil, _ := r.cfg.window()
	f := newFilter(0, -1, math.MinInt64, math.MaxInt64)
	if !tFrom.IsZero() {
		f.tFrom = tFrom.UnixMilli()
	}
	if !tUntil.IsZero() {
		f.tUntil = tUntil.UnixMilli()
	}
	for i := range r.cfg.Topics {
		m := r.cfg.Topics[i]
		versions, err := r.chainVersions(ctx, m)
		if err != nil {
			return err
		}
		if versions != nil {
			legs, err := r.planChain(ctx, m, versions, f)
			if err != nil {
				return err
			}
			r.jobs = append(r.jobs, legs...)
			continue
		}
		j, err := r.plan(ctx, m, f)
		if err != nil {
			return err
		}
		r.jobs = append(r.jobs, j)
	}
	if err := r.lockTargets(ctx); err != nil {
		return err
	}
	live, err := r.adm.Topics(ctx)
	if err != nil {
		return err
	}
	var problems []error
	for _, j := range r.jobs {
		preflight := r.preflight
		if j.leg > 0 {
			preflight = r.preflightLeg
		}
		p, err := preflight(ctx, j, live)
		if err != nil {
			return fmt.Errorf("topic %s: %w", j.m.TargetName(), err)
		}
		problems = append(problems, p...)
		if p := r.checkSelects(j); p != nil {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return joinFailures(ErrPreflight, problems)
	}
	if r.opts.DryRun {
		return nil
	}
	if err := r.initOffsetMaps(ctx); err != nil {
		return err
	}
	if err := r.createTopics(ctx); err != nil {
		return err
	}
	return r.startProducers(ctx)
}

// maxPartitions bounds the partition count a restore plans: an index naming
// a partition at or beyond it is damaged (a topic that large cannot be
// created), and planning it would allocate without bound.
const maxPartitions = 1 << 20

// plan resolves the snapshot of one mapping and plans its partitions from
// the index. A missing topic or snapshot fails with ErrPreflight whether or
// not checks are enabled: there is nothing to restore. Segments retention
// deleted or may delete are left out and reported (planExpired).
func (r *restorer) plan(ctx context.Context, m TopicMapping, base filter) (*topicJob, error) {
	v, man, err := r.st.ResolveSnapshot(ctx, m.Source, m.snapshotSel())
	if err != nil {
		return nil, fmt.Errorf("%w: source %s: %w", ErrPreflight, m.Source, err)
	}
	if m.snapshotSel() == "" {
		if v, err = r.newestWithRecords(ctx, m.Source, man); err != nil {
			return nil, fmt.Errorf("%w: source %s: %w", ErrPreflight, m.Source, err)
		}
	}
	j := &topicJob{m: m, loc: store.Loc{Topic: m.Source, Version: v}, checks: !m.DisablePreflightChecks}
	if s, ok := man.Get(v); ok {
		j.snap = *s
	}
	ix, err := r.st.ReadIndex(ctx, j.loc)
	if store.IsNotFound(err) {
		ix, err = &store.Index{Loc: j.loc}, nil // snapshot without data yet
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", j.loc, err)
	}
	var n int64 // the target's partitions: up to the snapshot's last one
	if ps := store.PartitionSet(&j.snap, ix); len(ps) > 0 {
		n = int64(ps[len(ps)-1]) + 1
	}
	if n > maxPartitions || n < 0 {
		return nil, fmt.Errorf("%w: source %s: the index names partition %d, beyond the %d partitions a restore can plan: the index is damaged (run kbackup verify)",
			ErrPreflight, j.loc, n-1, maxPartitions)
	}
	j.partitions = int32(n)
	j.holds = holdings(j.loc, ix)
	live, err := r.liveSegments(ctx, j.loc, ix)
	if err != nil {
		return nil, err
	}
	add := func(p int32, f filter) error {
		entries, expired, err := r.planExpired(j.loc, ix.Partition(p), live, f)
		if err != nil {
			return err
		}
		pp := newPartPlan(p, f, entries)
		pp.expired, pp.now = expired, r.now
		for _, s := range expired {
			r.log.Warn("skipping records the backup's retention deleted", "source", j.loc.String(), "partition", p,
				"offsets", fmt.Sprintf("%d-%d", s.FirstOffset, s.LastOffset), "records", s.Records)
		}
		j.plans = append(j.plans, pp)
		return nil
	}
	if len(m.Partitions) == 0 {
		for p := int32(0); p < j.partitions; p++ {
			if err := add(p, base); err != nil {
				return nil, err
			}
		}
		return j, nil
	}
	for _, pr := range m.Partitions {
		if pr.Number >= j.partitions {
			return nil, specError("topic %s: partition %d does not exist in snapshot v%d, which has %d partitions (0-%d)", m.Source, pr.Number, v, j.partitions, j.partitions-1)
		}
		f := base
		from, until := pr.bounds()
		f.from = from
		if until >= 0 {
			f.until = until
		}
		if err := add(pr.Number, f); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// restoreAll restores up to Parallelism topics at once; the legs of a
// chain one after the other.
func (r *restorer) restoreAll(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, r.cfg.Parallelism))
	for _, j := range r.jobs {
		if j.leg > 0 {
			continue // restored after the legs before it (restoreChain)
		}
		g.Go(func() error { return r.restoreChain(gctx, j) })
	}
	return g.Wait()
}

// restoreTopic produces the partitions of one topic concurrently.
func (r *restorer) restoreTopic(ctx context.Context, j *topicJob) error {
	j.phase.Store(int32(Restoring))
	r.log.Info("restoring", "source", j.loc.String(), "target", j.m.TargetName(), "partitions", len(j.plans))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(partitionWorkers)
	for _, pp := range j.plans {
		g.Go(func() error { return r.restorePartition(gctx, j, pp) })
	}
	if err := g.Wait(); err != nil {
		j.phase.Store(int32(Failed))
		return fmt.Errorf("topic %s: %w", j.m.TargetName(), err)
	}
	var recs int64
	for _, pp := range j.plans {
		recs += pp.recs.Load()
	}
	j.phase.Store(int32(Done))
	r.log.Info("restored", "source", j.loc.String(), "target", j.m.TargetName(), "records", recs)
	return nil
}
