package store

import (
	"context"
	"testing"
)

// TestSnapshotRequestsServedWithoutLoss: a request made while the holder
// serves the ones it listed is not cleared with them.
func TestSnapshotRequestsServedWithoutLoss(t *testing.T) {
	ctx := context.Background()
	for _, be := range leaseBackends {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t)
			if reqs, err := s.SnapshotRequests(ctx, "t"); err != nil || len(reqs) != 0 {
				t.Fatalf("no requests yet: %v, %v", reqs, err)
			}
			a, err := s.RequestSnapshot(ctx, "t", "alice", "before the migration")
			if err != nil {
				t.Fatal(err)
			}
			// Format 1's single request is served too.
			if err := s.write(ctx, requestKey("t"), []byte("token: old\nby: old kbackup\n")); err != nil {
				t.Fatal(err)
			}
			listed, err := s.SnapshotRequests(ctx, "t")
			if err != nil || len(listed) != 2 {
				t.Fatalf("listed %d requests, %v; want 2", len(listed), err)
			}
			b, err := s.RequestSnapshot(ctx, "t", "bob", "meanwhile")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.ClearSnapshotRequests(ctx, listed); err != nil {
				t.Fatal(err)
			}
			left, err := s.SnapshotRequests(ctx, "t")
			if err != nil || len(left) != 1 || left[0].Token != b.Token || left[0].By != "bob" {
				t.Fatalf("after serving %s: %+v, %v; want only bob's request", a.Token, left, err)
			}
		})
	}
}
