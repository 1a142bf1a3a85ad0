package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestGroupCaptures(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	loc := Loc{Topic: "orders", Version: 1}
	if _, err := s.GroupCaptureAt(ctx, loc, time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no captures: %v, want ErrNotFound", err)
	}
	l, err := s.AcquireLease(ctx, loc.Topic, "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < 3; i++ {
		c := GroupCapture{Time: t0.Add(time.Duration(i) * time.Minute), Offsets: []GroupOffset{
			{Group: "billing", Partition: 0, Offset: int64(10 * i), LeaderEpoch: -1, LogStart: 0, LogEnd: 100},
		}}
		if err := s.PutGroupCapture(ctx, l, loc, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutGroupCapture(ctx, l, Loc{Topic: "other", Version: 1}, GroupCapture{Time: t0}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("capture under another topic's lease: %v, want ErrLeaseLost", err)
	}
	refs, err := s.GroupCaptures(ctx, loc)
	if err != nil || len(refs) != 3 {
		t.Fatalf("GroupCaptures = %d, %v; want 3", len(refs), err)
	}
	for i, r := range refs {
		if !r.Time.Equal(t0.Add(time.Duration(i) * time.Minute)) {
			t.Errorf("ref %d time %v", i, r.Time)
		}
	}
	for _, tt := range []struct {
		at   time.Time
		want int64
	}{{time.Time{}, 20}, {t0.Add(90 * time.Second), 10}, {t0, 0}} {
		c, err := s.GroupCaptureAt(ctx, loc, tt.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Offsets[0].Offset; got != tt.want {
			t.Errorf("at %v: offset %d, want %d", tt.at, got, tt.want)
		}
	}
	if _, err := s.GroupCaptureAt(ctx, loc, t0.Add(-time.Second)); !errors.Is(err, ErrNotFound) {
		t.Errorf("before the first capture: %v, want ErrNotFound", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGroupCapture(ctx, l, loc, GroupCapture{Time: t0}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("capture after release: %v, want ErrLeaseLost", err)
	}
}

func TestParseGroupCaptureRefusesHostileBytes(t *testing.T) {
	for _, b := range []string{`{`, `{"offsets":[{"group":"","partition":0,"offset":1}]}`, `{"offsets":[{"group":"g","partition":-2,"offset":1}]}`} {
		if _, err := parseGroupCapture("k", []byte(b)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", b, err)
		}
	}
}
