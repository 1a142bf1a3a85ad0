package restore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/engine/inspect"
)

// TestRestoreDefaultSkipsEmptyActive: right after snapshot create, the
// active version holds nothing; a restore that names no snapshot restores
// the newest version with records, and one naming latest gets the empty one.
func TestRestoreDefaultSkipsEmptyActive(t *testing.T) {
	e, _ := knownEnv(t)
	if _, err := inspect.CreateSnapshot(e.ctx, e.st, "orders", inspect.CreateSnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := e.restore(mapping("orders", "copy-default"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ts := res.Topics[0]; ts.Snapshot != 2 || ts.Records == 0 {
		t.Fatalf("restore without a snapshot took v%d with %d records; want v2, the newest with records", ts.Snapshot, ts.Records)
	}
}

// TestRestoreSelectingNothingFails: a time window outside the data selects
// no record; preflight fails saying what the backup holds and creates
// nothing, unless AllowEmpty.
func TestRestoreSelectingNothingFails(t *testing.T) {
	e, _ := knownEnv(t)
	spec := mapping("orders", "nothing")
	spec.Spec.Config.CreateTopics = true
	spec.Spec.Config.RestoreFromDateTime = "2030-01-01T00:00:00Z"
	_, err := e.restore(spec, Options{})
	errContains(t, err, ErrPreflight, "selects no record", "orders/v2 holds 20 records", "offsets by partition 0: 0-19", "times 2026-01-15T10:00:00Z to 2026-01-15T10:00:19Z", "allowEmpty: true")
	if !errors.Is(err, ErrNothingSelected) {
		t.Fatalf("error %q does not wrap ErrNothingSelected", err)
	}
	if e.topicExists("nothing") {
		t.Fatal("a restore selecting nothing created its target")
	}
	spec.Spec.Config.AllowEmpty = true
	res, err := e.restore(spec, Options{})
	if err != nil || res.Phase != Done || res.Produced != 0 {
		t.Fatalf("allowEmpty: %v, phase %s, produced %d", err, res.Phase, res.Produced)
	}
}

// TestRestoreDryRun: plan and preflight, nothing created or produced; the
// result holds the plan.
func TestRestoreDryRun(t *testing.T) {
	e, _ := knownEnv(t)
	res, err := e.restore(mapping("orders", "dry"), Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if e.topicExists("dry") {
		t.Fatal("a dry run created its target")
	}
	ts := res.Topics[0]
	if res.Phase != Ready || res.Produced != 0 || !ts.Created || ts.RecordsTotal != 20 || ts.DecodedBytesTotal == 0 || len(ts.Partitions) == 0 {
		t.Fatalf("dry run: phase %s, produced %d, topic %+v", res.Phase, res.Produced, ts)
	}
	// Preflight still fails a dry run.
	spec := mapping("orders", "dry")
	spec.Spec.Config.CreateTopics = false
	if _, err := e.restore(spec, Options{DryRun: true}); !errors.Is(err, ErrPreflight) {
		t.Fatalf("dry run into a missing target without createTopics: %v", err)
	}
}

// TestCancelledRestoreIsNotAnError: a restore cancelled on purpose (rm -r
// of its folder in the mount) is logged as Cancelled at info, not as a
// failure at ERROR with advice to rerun.
func TestCancelledRestoreIsNotAnError(t *testing.T) {
	e, _ := knownEnv(t)
	var logs bytes.Buffer
	ctx, cancel := context.WithCancelCause(e.ctx)
	cancel(ErrCancelled)
	_, err := Run(ctx, e.st, e.kcfg, mapping("orders", "cancelled"), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("error %v, want ErrCancelled", err)
	}
	if !strings.Contains(logs.String(), `msg="restore Cancelled"`) || strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

// TestMountHintsNameSpecFields: a restore started by a copy into the
// mount's restore/ gets advice it can follow there: spec fields, not
// command line flags the mount does not have.
func TestMountHintsNameSpecFields(t *testing.T) {
	e, _ := knownEnv(t)
	rs := NewRuns(e.ctx, e.st, e.kcfg, RunsOptions{})
	defer rs.Close()
	for _, tc := range []struct {
		name string
		spec func() *Spec
		want string
	}{
		{"missing", func() *Spec {
			s := mapping("orders", "hint-missing")
			s.Spec.Config.CreateTopics = false
			return s
		}, "set createTopics: true"},
		{"nothing", func() *Spec {
			s := mapping("orders", "hint-nothing")
			s.Spec.Config.RestoreFromDateTime = "2099-01-01T00:00:00Z"
			return s
		}, "set allowEmpty: true"},
	} {
		_ = rs.Start(tc.name, tc.spec())
		var status string
		for {
			rep, err := rs.Report(tc.name)
			if err == nil && !rep.Finished.IsZero() {
				status = rep.Status.Reason
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !strings.Contains(status, tc.want) || strings.Contains(status, "--") {
			t.Errorf("%s: status does not say %q, or names a flag:\n%s", tc.name, tc.want, status)
		}
	}
}
