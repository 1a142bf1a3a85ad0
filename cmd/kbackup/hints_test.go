package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/engine/restore"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

func TestWithHint(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string // "" for no hint
	}{
		{store.ErrNoStorage, "KBACKUP_STORAGE"},
		{fmt.Errorf("open: %w", kafka.ErrNoBrokers), "--brokers HOST:PORT"},
		{fmt.Errorf("%w: 127.0.0.1:1 did not answer", kafka.ErrUnreachable), "check --brokers"},
		{fmt.Errorf("include pattern %q is %w: x", "(", backup.ErrBadPattern), "--topic"},
		{store.ErrNotFound, ""},
		{fmt.Errorf("%w: topic t: %w: partition 0 holds 3 records; to append anyway set allowNonEmpty: true", restore.ErrPreflight, restore.ErrTargetNotEmpty),
			"set allowNonEmpty: true (on the command line allowNonEmpty is --allow-nonempty)"},
		{fmt.Errorf("%w: %w: add config.topics", restore.ErrInvalidSpec, restore.ErrNoTopics), "topics is --topic SOURCE[:TARGET]"},
		{restore.ErrPartitionCount, ""},
	} {
		got := withHint(tt.err)
		if !errors.Is(got, tt.err) {
			t.Errorf("withHint(%v) = %v: lost the error it wraps", tt.err, got)
		}
		if tt.want == "" && got.Error() != tt.err.Error() || tt.want != "" && !strings.Contains(got.Error(), tt.want) {
			t.Errorf("withHint(%v) = %q, want a hint with %q", tt.err, got, tt.want)
		}
	}
}

// TestCheckFlags: every restore check whose spec field has a flag
// is named with that flag, two failed checks with both; a check without
// a field gets none.
func TestCheckFlags(t *testing.T) {
	for _, f := range checkFlags {
		if f.err.Field == "" {
			t.Errorf("check %q has a flag but no spec field", f.err.Check)
		}
	}
	two := fmt.Errorf("%w: topic a: %w: x; topic b: %w: y", restore.ErrPreflight, restore.ErrTargetMissing, restore.ErrRetention)
	got := withHint(two).Error()
	for _, want := range []string{"createTopics is --create-topics", "filters.time.retention is --retention"} {
		if !strings.Contains(got, want) {
			t.Errorf("withHint = %q, want %q", got, want)
		}
	}
}
