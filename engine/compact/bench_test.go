package compact

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kbackup/kbackup/integration/benchtab"
	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// BenchmarkCompact merges a partition of 2,000 minute-rolled segments of
// 10 records each (about 1 KiB stored) with the defaults, and extrapolates
// to a year of such segments (525,600), which issue 13 wants in fewer than
// 1,000 objects.
//
//	go test ./engine/compact -run '^$' -bench Compact -benchtime 1x
func BenchmarkCompact(b *testing.B) {
	const segs = 2000
	ctx := context.Background()
	compact := benchtab.Contender{
		Name:     "kbackup index compact",
		Settings: "file storage, defaults (64 MiB segments), --grace 0",
		Run: func(m *benchtab.Measure) error {
			st, err := store.Open(ctx, b.TempDir())
			if err != nil {
				return err
			}
			defer st.Close()
			if err := writeMinuteSegments(ctx, st, segs); err != nil {
				return err
			}
			var rep *Report
			if err := m.Seconds("s", func() (err error) {
				rep, err = Compact(ctx, st, "quiet", Options{})
				return err
			}); err != nil {
				return err
			}
			if rep.Before != segs {
				return fmt.Errorf("compacted %d segments, want %d", rep.Before, segs)
			}
			m.Set("segments after", float64(rep.After))
			m.Set("objects per year", float64(rep.After)*525600/segs)
			return nil
		},
	}
	res := benchtab.Run(b, benchtab.Options{}, compact)
	res.Figure(benchtab.Figure{ID: "compact-time", Name: "index compact of 2,000 small segments in one partition", Unit: "s",
		Kbackup: res.Side(compact.Name, "s"), Note: "10 records of about 100 bytes per segment, about 1 KiB stored"})
	res.Figure(benchtab.Figure{ID: "compact-year", Name: "objects for a year of minute-rolled segments of one partition, after index compact", Unit: "objects",
		Kbackup: res.Side(compact.Name, "objects per year"), Goal: benchtab.AtMost(1000, "issue 13"),
		Note: "2,000 segments compacted, scaled to 525,600"})
}

// writeMinuteSegments stores n segments of 10 records in partition 0 of
// the flat topic "quiet", indexed in one write.
func writeMinuteSegments(ctx context.Context, st *store.Store, n int) error {
	loc := store.Loc{Topic: "quiet"}
	l, err := st.AcquireLease(ctx, loc.Topic, "fixture", time.Hour)
	if err != nil {
		return err
	}
	defer l.Release(ctx)
	es := make([]store.SegmentEntry, n)
	for i := range es {
		if es[i], err = storetest.WriteSegment(ctx, st, l, loc, storetest.Segment{Start: int64(i * 10), First: int64(i * 10), N: 10}); err != nil {
			return err
		}
	}
	return st.WriteIndex(ctx, l, loc, es)
}
