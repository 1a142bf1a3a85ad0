package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

func TestGroupCaptureMetrics(t *testing.T) {
	m := NewBackup(Options{})
	now := time.Unix(1700000000, 0)
	m.now = func() time.Time { return now }
	names := []string{"kbackup_backup_group_captures_total", "kbackup_backup_group_capture_failures_total",
		"kbackup_backup_groups_captured", "kbackup_backup_group_capture_timestamp_seconds", "kbackup_backup_group_capture_duration_seconds"}
	collect := func() string {
		t.Helper()
		got, err := testutil.CollectAndFormat(m.Collector(), expfmt.TypeTextPlain, names...)
		if err != nil {
			t.Fatal(err)
		}
		return samples(string(got))
	}
	if got, want := collect(), "kbackup_backup_group_capture_failures_total 0\nkbackup_backup_group_captures_total 0"; got != want {
		t.Fatalf("before any capture:\n%s\nwant\n%s", got, want)
	}
	m.GroupsCaptured(1000, 3, 250*time.Millisecond, nil)
	m.GroupsCaptured(1000, 0, 2*time.Second, errors.New("coordinator not available"))
	want := strings.TrimSpace(`
kbackup_backup_group_capture_duration_seconds 2
kbackup_backup_group_capture_failures_total 1
kbackup_backup_group_capture_timestamp_seconds 1.7e+09
kbackup_backup_group_captures_total 2
kbackup_backup_groups_captured 1000`)
	if got := collect(); got != want {
		t.Fatalf("after a capture and a failure:\n%s\nwant\n%s", got, want)
	}
}
