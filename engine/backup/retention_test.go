package backup

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
	fixture "github.com/kbackup/kbackup/store/storetest"
)

var v1 = store.Loc{Topic: "orders", Version: 1}

// retain runs a retention pass over topic with policy at now, as the daemon
// does.
func retain(t *testing.T, st *store.Store, topic string, policy time.Duration, now time.Time) *RetentionResult {
	t.Helper()
	ctx := context.Background()
	var res *RetentionResult
	err := fixture.WithLease(ctx, st, topic, func(l *store.Lease) error {
		var err error
		res, err = ApplyRetention(ctx, st, l, policy, now, func(ctx context.Context, loc store.Loc) (Expirer, error) {
			return st.OpenIndexWriter(ctx, l, loc)
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestApplyRetentionRecordedExpiry: segments a format 1 writer gave an
// expiry are deleted once it passed, and the index keeps their entries.
func TestApplyRetentionRecordedExpiry(t *testing.T) {
	ctx := context.Background()
	st, _ := fixture.KnownStore(t)
	before, _ := st.ReadIndex(ctx, v1)
	// A reader (as a mount would hold) on the expired segment.
	sr, err := st.OpenSegment(ctx, v1, fixture.OrdersV1[0].ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sr.ReadBlock(0, nil); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	res := retain(t, st, "orders", 0, now)
	if want := []string{v1.SegmentKey(fixture.OrdersV1[0].ID)}; !reflect.DeepEqual(res.Deleted, want) {
		t.Fatalf("deleted %v, want %v", res.Deleted, want)
	}
	listed, _ := st.ListSegments(ctx, v1)
	if len(listed) != 2 {
		t.Fatalf("left %v", listed)
	}
	after, _ := st.ReadIndex(ctx, v1)
	if !reflect.DeepEqual(before.Segments, after.Segments) {
		t.Fatal("retention changed the index entries")
	}
	if _, err := sr.ReadBlock(1, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reading a deleted segment: %v, want ErrNotFound", err)
	}
	if res := retain(t, st, "orders", 0, now); len(res.Deleted) != 0 {
		t.Fatalf("second pass deleted %v", res.Deleted)
	}
}

// TestApplyRetentionPolicy: the policy in force applies to every segment,
// whenever it was written and whatever expiry it was written with; it
// expires the oldest segments of each partition in offset order, records
// the decision in the index before deleting, and readers see it as expiry.
func TestApplyRetentionPolicy(t *testing.T) {
	ctx := context.Background()
	st, _ := fixture.KnownStore(t)
	// orders/v1 partition 0: records at Base+0s..49s (expiry recorded in
	// the past) and Base+50s..99s (expiry recorded far in the future);
	// partition 1: Base+0s..29s. orders/v2: Base+0s..19s.
	now := fixture.Base.Add(24*time.Hour + 60*time.Second)
	res := retain(t, st, "orders", 24*time.Hour, now)
	v2 := store.Loc{Topic: "orders", Version: 2}
	want := []string{v1.SegmentKey(fixture.OrdersV1[0].ID), v1.SegmentKey(fixture.OrdersV1[2].ID), v2.SegmentKey(fixture.OrdersV2[0].ID)}
	if !reflect.DeepEqual(res.Deleted, want) {
		t.Fatalf("deleted %v, want %v", res.Deleted, want)
	}
	ix, err := st.ReadIndex(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ix.Segments {
		gone := e.ULID != fixture.OrdersV1[1].ID
		if e.Expired(now) != gone {
			t.Errorf("segment %s (partition %d): expired=%v, want %v", e.ULID, e.Partition, e.Expired(now), gone)
		}
	}
	if ps := ix.Partitions[1]; ps.ExpiredBefore != 30 || ps.ExpiredAt == nil {
		t.Errorf("partition 1 summary %+v, want expired before 30", ps)
	}
	// A longer policy later expires the rest, including the segment whose
	// recorded expiry is in 2099.
	res = retain(t, st, "orders", time.Hour, now)
	if want := []string{v1.SegmentKey(fixture.OrdersV1[1].ID)}; !reflect.DeepEqual(res.Deleted, want) {
		t.Fatalf("second policy deleted %v, want %v", res.Deleted, want)
	}
}
