package restore

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// RunsOptions configures NewRuns.
type RunsOptions struct {
	// Logger receives every restore's log (default: discard).
	Logger *slog.Logger
	// InitWait is how long Start waits for a restore to pass its
	// preflight checks before returning (default 10s).
	InitWait time.Duration
	// A spec started here acts with the mount's credentials on behalf of
	// whoever copied it in: it may disable preflight checks
	// (disablePreflightChecks) only with AllowNoPreflight and append to
	// non-empty targets (allowNonEmpty) only with AllowNonEmpty; otherwise
	// it is Invalid.
	AllowNoPreflight bool
	AllowNonEmpty    bool
	// Retention is the choice for restores whose spec makes none
	// (Config.Filters.Time.Retention).
	Retention RetentionPolicy
	// LockDir is Options.LockDir for every restore.
	LockDir string
	// StateDir is Options.StateDir for every restore.
	StateDir string
}

// Runs runs named restores in the background, as the mount's restore/
// folder asks for them, and keeps their status until they are forgotten.
// It is safe for concurrent use.
type Runs struct {
	ctx    context.Context
	cancel context.CancelFunc
	st     *store.Store
	kcfg   *kafka.Config
	opts   RunsOptions
	wg     sync.WaitGroup

	mu   sync.Mutex
	runs map[string]*restoreRun
}

// restoreRun is one background restore.
type restoreRun struct {
	name    string
	started time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	inited  chan struct{} // closed once past Initializing (or ended)
	once    sync.Once

	mu       sync.Mutex
	status   Status
	result   *Result
	finished time.Time
	err      error
}

// NewRuns returns a manager whose restores run until ctx is cancelled
// or Close is called.
func NewRuns(ctx context.Context, st *store.Store, kcfg *kafka.Config, opts RunsOptions) *Runs {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.InitWait <= 0 {
		opts.InitWait = 10 * time.Second
	}
	cctx, cancel := context.WithCancel(ctx)
	return &Runs{ctx: cctx, cancel: cancel, st: st, kcfg: kcfg, opts: opts, runs: map[string]*restoreRun{}}
}

// Start validates spec and starts restoring it in the background as name.
// It waits until the restore has passed its preflight checks (or
// InitWait), so that an invalid spec (ErrInvalidSpec) or a failed check
// (ErrPreflight) is returned; the restore's status keeps the reason too.
// A name in use fails with ErrNameInUse.
func (rs *Runs) Start(name string, spec *Spec) error {
	run := &restoreRun{name: name, started: time.Now(), done: make(chan struct{}), inited: make(chan struct{})}
	rs.mu.Lock()
	if _, ok := rs.runs[name]; ok {
		rs.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNameInUse, name)
	}
	rs.runs[name] = run
	rs.mu.Unlock()
	run.status.Phase = Ready
	if err := rs.admit(spec); err != nil {
		run.end(&Result{Status: Status{Phase: Invalid, Reason: err.Error()}}, err)
		close(run.done)
		return err
	}
	ctx, cancelCause := context.WithCancelCause(rs.ctx)
	cancel := func() { cancelCause(nil) }
	run.cancel = func() { cancelCause(ErrCancelled) }
	log := rs.opts.Logger.With("restore", name)
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		defer close(run.done)
		defer cancel()
		res, err := Run(ctx, rs.st, rs.kcfg, spec, Options{Logger: log, OnStatus: run.update, LockDir: rs.opts.LockDir, StateDir: rs.opts.StateDir})
		run.end(res, err)
	}()
	select {
	case <-run.inited:
	case <-time.After(rs.opts.InitWait):
		return nil
	}
	run.mu.Lock()
	ph := run.status.Phase
	run.mu.Unlock()
	if ph != Failed && ph != Invalid {
		return nil
	}
	<-run.done // Run has returned: err is set
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.err
}

// admit checks spec against what this manager permits and fills in its
// default retention choice; an error wraps ErrInvalidSpec.
func (rs *Runs) admit(spec *Spec) error {
	if spec == nil {
		return nil
	}
	if spec.Spec.Enabled != nil && !*spec.Spec.Enabled {
		return specError("the spec is a draft (spec.enabled: false): set enabled: true to run it")
	}
	c := &spec.Spec.Config
	if c.AllowNonEmpty && !rs.opts.AllowNonEmpty {
		return specError("allowNonEmpty: this mount does not let restores append to targets holding other records; " +
			"restore into an empty target, or start the mount with --restore-allow-nonempty")
	}
	for _, t := range c.Topics {
		if t.DisablePreflightChecks && !rs.opts.AllowNoPreflight {
			return specError("topic %s: disablePreflightChecks: this mount does not let restores skip their preflight checks; "+
				"remove it, or start the mount with --restore-allow-no-preflight", t.Source)
		}
	}
	if c.Filters.Time.Retention == "" {
		c.Filters.Time.Retention = rs.opts.Retention
	}
	return nil
}

func (r *restoreRun) update(s Status) {
	r.mu.Lock()
	r.status = s
	r.mu.Unlock()
	if s.Phase != Ready && s.Phase != Initializing {
		r.once.Do(func() { close(r.inited) })
	}
}

func (r *restoreRun) end(res *Result, err error) {
	r.mu.Lock()
	if res != nil {
		r.status = res.Status
	}
	r.result, r.err, r.finished = res, err, time.Now()
	if err != nil && r.status.Phase != Failed && r.status.Phase != Invalid {
		r.status.Phase, r.status.Reason = Failed, err.Error()
	}
	r.mu.Unlock()
	r.once.Do(func() { close(r.inited) })
}

// Invalid records name as a restore that cannot run, with status Invalid
// and reason (plain text, shown as it is), and returns an error wrapping
// ErrInvalidSpec. The mount uses it for copies that are not a restore
// (several snapshots, a single file).
func (rs *Runs) Invalid(name, reason string) error {
	return rs.invalid(name, specError("%s", reason))
}

// invalid records name with status Invalid and err as its reason.
func (rs *Runs) invalid(name string, err error) error {
	run := &restoreRun{name: name, started: time.Now(), done: make(chan struct{}), inited: make(chan struct{})}
	rs.mu.Lock()
	if _, ok := rs.runs[name]; ok {
		rs.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNameInUse, name)
	}
	rs.runs[name] = run
	rs.mu.Unlock()
	run.end(&Result{Status: Status{Phase: Invalid, Reason: err.Error()}}, err)
	close(run.done)
	return err
}

// StartSpec parses spec (the `kbackup restore -f` format, as copied into
// the mount's restore/) and starts it as name; a spec that does not parse
// is recorded as Invalid with the parse error as its reason.
func (rs *Runs) StartSpec(name string, spec []byte) error {
	s, err := ParseSpec(spec)
	if err != nil {
		return rs.invalid(name, err)
	}
	return rs.Start(name, s)
}

// CopyRequest is a restore asked for by copying a snapshot, or some of its
// partitions, in the browse tree: typed, so nothing is formatted to be
// parsed back.
type CopyRequest struct {
	// Name is the restore's name.
	Name string
	// Source is the snapshot copied.
	Source store.Loc
	// Partitions limits the restore to these partitions; nil means all.
	Partitions []int32
	// Target is the topic to restore into.
	Target string
}

// Copy starts the restore of a copy: the snapshot (or its partitions) into
// the target, which is created when missing with the snapshot's
// partitions and configs. It is Start of that spec.
func (rs *Runs) Copy(req CopyRequest) error {
	tm := TopicMapping{Source: req.Source.Topic, Target: req.Target, Snapshot: &SnapshotRef{Version: SnapshotAt(req.Source.Version)}}
	for _, p := range req.Partitions {
		tm.Partitions = append(tm.Partitions, PartitionRange{Number: p})
	}
	spec := &Spec{Kind: "Restore"}
	spec.Metadata.Name = req.Name
	groups := copyGroups
	spec.Spec.Config = Config{Topics: []TopicMapping{tm}, CreateTopics: true, ConsumerGroups: &groups}
	return rs.Start(req.Name, spec)
}

// List returns the names of the known restores, sorted.
func (rs *Runs) List() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	names := make([]string, 0, len(rs.runs))
	for n := range rs.runs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Status returns the restore's status, or ErrNameUnknown.
func (rs *Runs) Status(name string) (Status, error) {
	rs.mu.Lock()
	run, ok := rs.runs[name]
	rs.mu.Unlock()
	if !ok {
		return Status{}, fmt.Errorf("%w: %s", ErrNameUnknown, name)
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.status, nil
}

// Report is a restore as Runs knows it: its status and when it ran. The
// mount and the WebDAV server render it as restore/<name>/status.
type Report struct {
	Name   string
	Status Status
	// Started is when it was asked for; Finished when it ended (zero
	// while it runs).
	Started, Finished time.Time
	// Produced counts the records it produced, once Done.
	Produced *int64
}

// Report returns the report of restore name, or ErrNameUnknown.
func (rs *Runs) Report(name string) (Report, error) {
	rs.mu.Lock()
	run, ok := rs.runs[name]
	rs.mu.Unlock()
	if !ok {
		return Report{}, fmt.Errorf("%w: %s", ErrNameUnknown, name)
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	rep := Report{Name: run.name, Status: run.status, Started: run.started, Finished: run.finished}
	if !run.finished.IsZero() && run.result != nil && run.status.Phase == Done {
		n := run.result.Produced
		rep.Produced = &n
	}
	return rep, nil
}

// Cancel stops a running restore and waits for it to end, then forgets it;
// a finished restore is forgotten. Unknown names return ErrNameUnknown.
func (rs *Runs) Cancel(name string) error {
	rs.mu.Lock()
	run, ok := rs.runs[name]
	rs.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNameUnknown, name)
	}
	if run.cancel != nil {
		run.cancel()
	}
	<-run.done
	rs.mu.Lock()
	if rs.runs[name] == run {
		delete(rs.runs, name)
	}
	rs.mu.Unlock()
	return nil
}

// Close cancels every running restore and waits for them. Calling it more
// than once is harmless.
func (rs *Runs) Close() {
	rs.cancel()
	rs.wg.Wait()
}
