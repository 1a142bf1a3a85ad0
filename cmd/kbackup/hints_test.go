package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/engine/backup"
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
