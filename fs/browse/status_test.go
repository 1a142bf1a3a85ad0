package browse

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestRenderStatus checks the one renderer of status files: any name or
// reason reads back as itself, and a restore's progress, expired spans
// and retention show as the mount always showed them.
func TestRenderStatus(t *testing.T) {
	for _, st := range []RestoreStatus{
		{Name: "x\nphase: Done", Phase: "Ready", Reason: "a\nphase: Done\nproduced: 9"},
		{Name: "'quoted' \"name\": yes #", Phase: "Failed", Reason: "- list\n: colon"},
	} {
		var back statusDoc
		if err := yaml.Unmarshal(st.Render(), &back); err != nil || back.Restore != st.Name || back.Phase != st.Phase || back.Reason != st.Reason {
			t.Errorf("status %q reads back as %+v (%v)", st.Render(), back, err)
		}
	}
	base := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	cutoff := base.Add(-time.Hour)
	produced := int64(30)
	st := RestoreStatus{Name: "by-copy", Phase: "Done", Started: base, Finished: base.Add(time.Minute), Produced: &produced,
		Topics: []TopicStatus{{Source: "orders", Snapshot: 1, Target: "v1-copy", Phase: "Done", Created: true, Records: 30, RecordsTotal: 30,
			DecodedBytes: 900, DecodedBytesTotal: 900, ExpiredRecords: 50, Retention: &RetentionStatus{Policy: "extend", RetentionMs: 3600000, Cutoff: &cutoff, Older: 5},
			Partitions: []PartitionStatus{{Partition: 0, Records: 0, RecordsTotal: 0, Expired: []ExpiredSpan{{FirstOffset: 0, LastOffset: 49,
				MinTimestamp: base, MaxTimestamp: base.Add(49 * time.Second), Records: 50}}}, {Partition: 1, Records: 30, RecordsTotal: 30, Resumed: 3}}}}}
	got := string(st.Render())
	for _, want := range []string{"restore: by-copy\nphase: Done\nstarted: \"2026-01-15T10:00:00Z\"\nfinished: \"2026-01-15T10:01:00Z\"\nproduced: 30\n",
		"snapshot: v1", "records: 30 of 30", "decoded_bytes: 900 of 900", "expired_records: 50", "created: true",
		"offsets: 0-49", "times: 2026-01-15T10:00:00Z/2026-01-15T10:00:49Z", "records: 50\n", "resumed: 3",
		"target_retention_ms: 3600000", "cutoff: \"2026-01-15T09:00:00Z\"", "older_records: 5", "policy: extend"} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}
	if got := string((&RestoreStatus{Name: "w", Phase: "Ready"}).Render()); got != "restore: w\nphase: Ready\n" {
		t.Errorf("a pending copy's status: %q", got)
	}
}
