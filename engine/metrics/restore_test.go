package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/kbackup/kbackup/engine/restore"
)

func TestRestoreSeries(t *testing.T) {
	status := func(ph restore.Phase, p0, p1 int64) restore.Status {
		return restore.Status{Phase: ph, Topics: []restore.TopicStatus{{
			Source: "orders", Target: "orders-copy", Phase: ph,
			Records: p0 + p1, RecordsTotal: 200, DecodedBytes: 10 * (p0 + p1), DecodedBytesTotal: 2000,
			Partitions: []restore.PartitionStatus{
				{Partition: 0, Records: p0, RecordsTotal: 100, DecodedBytes: 10 * p0, DecodedBytesTotal: 1000},
				{Partition: 1, Records: p1, RecordsTotal: 100, DecodedBytes: 10 * p1, DecodedBytesTotal: 1000},
			},
		}}}
	}
	names := []string{"kbackup_restore_records_total", "kbackup_restore_progress_ratio", "kbackup_restore_phase", "kbackup_restore_errors_total"}
	for _, tc := range []struct {
		name   string
		labels bool
		golden string
	}{
		{"partition labels", true, `
kbackup_restore_errors_total 1
kbackup_restore_phase{phase="Failed"} 1
kbackup_restore_progress_ratio{source="orders",topic="orders-copy"} 0.75
kbackup_restore_records_total{partition="0",source="orders",topic="orders-copy"} 100
kbackup_restore_records_total{partition="1",source="orders",topic="orders-copy"} 50
`},
		{"per topic", false, `
kbackup_restore_errors_total 1
kbackup_restore_phase{phase="Failed"} 1
kbackup_restore_progress_ratio{source="orders",topic="orders-copy"} 0.75
kbackup_restore_records_total{source="orders",topic="orders-copy"} 150
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewRestore(Options{PartitionLabels: tc.labels})
			m.Update(status(restore.Initializing, 0, 0))
			m.Update(status(restore.Restoring, 40, 10))
			if err := m.Ready(); err != nil {
				t.Fatalf("ready while restoring: %v", err)
			}
			m.Update(status(restore.Failed, 100, 50))
			m.Update(status(restore.Failed, 100, 50)) // one failure, reported twice
			if err := m.Ready(); err == nil || !strings.Contains(err.Error(), "Failed") {
				t.Fatalf("ready after failure: %v", err)
			}
			got, err := testutil.CollectAndFormat(m.Collector(), expfmt.TypeTextPlain, names...)
			if err != nil {
				t.Fatal(err)
			}
			if g := samples(string(got)); g != strings.TrimSpace(tc.golden) {
				t.Fatalf("got\n%s\nwant\n%s", g, strings.TrimSpace(tc.golden))
			}
		})
	}
}
