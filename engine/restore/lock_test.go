package restore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestoresIntoOneTargetAreSerialised runs two restores into one target
// at once, as a cp -r of v1 and of v1/0 into the mount's restore/ would:
// only one may write, and the target ends holding every source record
// once (kcat as the checker).
func TestRestoresIntoOneTargetAreSerialised(t *testing.T) {
	if testing.Short() {
		t.Skip("runs concurrent restores; skipped with -short (make test runs it)")
	}
	e := newEnv(t)
	e.createTopic("src", 2, nil)
	var recs []*kgo.Record
	for i := 0; i < 4000; i++ {
		recs = append(recs, &kgo.Record{Topic: "src", Partition: int32(i % 2), Key: []byte(fmt.Sprint(i)),
			Value: []byte(fmt.Sprintf("value %d %0100d", i, i)), Timestamp: base.Add(time.Duration(i) * time.Millisecond)})
	}
	e.produce(recs...)
	e.backup("src")
	src := e.kcatRead("src")
	e.slowProduce(5 * time.Millisecond)
	lockDir := t.TempDir()
	whole := func(dst string) *Spec { return mapping("src", dst) }
	part0 := func(dst string) *Spec {
		spec := mapping("src", dst)
		spec.Spec.Config.Topics[0].Partitions = []PartitionRange{{Number: 0}}
		return spec
	}
	noDuplicates := func(dst string) {
		t.Helper()
		got := e.kcatRead(dst)
		for p := int32(0); p < 2; p++ {
			compare(t, fmt.Sprintf("%s partition %d", dst, p), src[p], got[p])
		}
	}

	// A restore is running; a second into the same target is refused.
	restoring := make(chan struct{})
	var once sync.Once
	errA := make(chan error, 1)
	go func() {
		_, err := Run(e.ctx, e.st, e.kcfg, whole("dst"), Options{LockDir: lockDir, StatusInterval: time.Millisecond,
			OnStatus: func(s Status) {
				if s.Phase == Restoring {
					once.Do(func() { close(restoring) })
				}
			}})
		errA <- err
	}()
	select {
	case <-restoring:
	case err := <-errA:
		t.Fatalf("first restore ended before the second started: %v", err)
	}
	res, err := Run(e.ctx, e.st, e.kcfg, part0("dst"), Options{LockDir: lockDir})
	errContains(t, err, ErrTargetBusy, "topic dst: another restore into it is running", "(this process)")
	if !errors.Is(err, ErrPreflight) || res.Phase != Failed || res.Produced != 0 {
		t.Fatalf("second restore: %v, phase %s, produced %d", err, res.Phase, res.Produced)
	}
	if err := <-errA; err != nil {
		t.Fatal(err)
	}
	// Once the first ended, the second finds its partition restored.
	res, err = Run(e.ctx, e.st, e.kcfg, part0("dst"), Options{LockDir: lockDir})
	if err != nil || res.Produced != 0 {
		t.Fatalf("rerun after the first: %v, produced %d", err, res.Produced)
	}
	noDuplicates("dst")

	// Both started at the same instant into an empty existing target:
	// whichever loses is refused, and its rerun completes the target.
	e.createTopic("raced", 2, nil)
	specs := []*Spec{whole("raced"), part0("raced")}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = Run(context.WithoutCancel(e.ctx), e.st, e.kcfg, specs[i], Options{LockDir: lockDir})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, ErrTargetBusy) {
			t.Fatalf("raced restore %d: %v", i, err)
		}
		if err != nil {
			if _, err := Run(e.ctx, e.st, e.kcfg, specs[i], Options{LockDir: lockDir}); err != nil {
				t.Fatalf("rerun of raced restore %d: %v", i, err)
			}
		}
	}
	noDuplicates("raced")
}

// TestRestoresAdmit refuses specs that disable preflight checks or allow
// non-empty targets unless the manager (the mount) permits it, and gives
// specs without a retention choice the manager's.
func TestRestoresAdmit(t *testing.T) {
	e := newEnv(t)
	e.createTopic("src", 1, nil)
	e.produce(&kgo.Record{Topic: "src", Key: []byte("k"), Value: []byte("v"), Timestamp: base})
	e.backup("src")
	spec := func(edit func(c *Config)) *Spec {
		s := mapping("src", "dst")
		s.Spec.Config.Filters.Time.Retention = ""
		edit(&s.Spec.Config)
		return s
	}
	strict := NewRuns(e.ctx, e.st, e.kcfg, RunsOptions{LockDir: t.TempDir()})
	defer strict.Close()
	err := strict.Start("nonempty", spec(func(c *Config) { c.AllowNonEmpty = true }))
	errContains(t, err, ErrInvalidSpec, "allowNonEmpty", "--restore-allow-nonempty")
	err = strict.Start("nochecks", spec(func(c *Config) { c.Topics[0].DisablePreflightChecks = true }))
	errContains(t, err, ErrInvalidSpec, "disablePreflightChecks", "--restore-allow-no-preflight")
	for _, name := range []string{"nonempty", "nochecks"} {
		if st, err := strict.Status(name); err != nil || st.Phase != Invalid {
			t.Fatalf("%s: phase %v, %v", name, st.Phase, err)
		}
	}
	// Without a retention choice, the old record fails the check.
	err = strict.Start("old", spec(func(*Config) {}))
	errContains(t, err, ErrPreflight, "retention")
	if e.topicExists("dst") {
		t.Fatal("a refused restore created its target")
	}

	lax := NewRuns(e.ctx, e.st, e.kcfg, RunsOptions{LockDir: t.TempDir(), AllowNonEmpty: true, AllowNoPreflight: true, Retention: ExtendTargetTopicRetention})
	defer lax.Close()
	if err := lax.Start("permitted", spec(func(c *Config) { c.AllowNonEmpty, c.Topics[0].DisablePreflightChecks = true, true })); err != nil {
		t.Fatal(err)
	}
	for {
		rep, _ := lax.Report("permitted")
		if !rep.Finished.IsZero() {
			if rep.Status.Phase != Done || rep.Produced == nil {
				t.Fatalf("permitted restore: %+v", rep)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := e.kcatRead("dst"); len(got[0]) != 1 {
		t.Fatalf("dst holds %v", got)
	}
}
