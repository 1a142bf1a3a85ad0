package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// leaseBackends opens each storage kind the lease tests run on.
var leaseBackends = []struct {
	name string
	open func(t *testing.T) *Store
}{
	{"file", func(t *testing.T) *Store { return fileStore(t, "") }},
	{"mem", memStore},
}

func TestLeaseHeldAndTakeover(t *testing.T) {
	ctx := context.Background()
	for _, be := range leaseBackends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			s := be.open(t)
			const ttl = time.Second
			a, err := s.AcquireLease(ctx, "orders", "host-a pid 1", ttl)
			if err != nil {
				t.Fatal(err)
			}
			if a.Holder() != "host-a pid 1" {
				t.Errorf("holder %q", a.Holder())
			}
			_, err = s.AcquireLease(ctx, "orders", "host-b pid 2", ttl)
			if !errors.Is(err, ErrLeaseHeld) {
				t.Fatalf("second acquire: %v, want ErrLeaseHeld", err)
			}
			for _, want := range []string{"storage error: resource already held by someone else", "host-a pid 1"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if err := a.Renew(ctx); err != nil {
				t.Fatalf("renew: %v", err)
			}
			// Another topic is independent.
			o, err := s.AcquireLease(ctx, "other", "host-b pid 2", ttl)
			if err != nil {
				t.Fatalf("lease on another topic: %v", err)
			}
			defer o.Release(ctx)

			time.Sleep(ttl + 300*time.Millisecond)
			b, err := s.AcquireLease(ctx, "orders", "host-b pid 2", ttl)
			if err != nil {
				t.Fatalf("takeover of a stale lease: %v", err)
			}
			if err := a.Renew(ctx); !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "host-b pid 2") {
				t.Errorf("old holder's renew: %v, want ErrLeaseLost naming host-b", err)
			}
			if err := a.Release(ctx); err != nil {
				t.Errorf("old holder's release: %v", err)
			}
			if err := b.Renew(ctx); err != nil {
				t.Errorf("new holder lost its lease to the old holder's release: %v", err)
			}
			if err := b.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if err := b.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
				t.Errorf("renew after release: %v, want ErrLeaseLost", err)
			}
			c, err := s.AcquireLease(ctx, "orders", "host-c", 0)
			if err != nil {
				t.Fatalf("acquire after release: %v", err)
			}
			if err := c.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLeaseRenewKeepsFresh: a lease renewed within its TTL is not taken over.
func TestLeaseRenewKeepsFresh(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	const ttl = time.Second
	a, err := s.AcquireLease(ctx, "t", "a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		time.Sleep(ttl / 2)
		if err := a.Renew(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AcquireLease(ctx, "t", "b", ttl); !errors.Is(err, ErrLeaseHeld) {
		t.Errorf("acquire of a renewed lease: %v, want ErrLeaseHeld", err)
	}
}

// TestLeaseUnreadable: garbage in __lease counts as held until it is stale.
func TestLeaseUnreadable(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	if err := s.write(ctx, leaseKey("t"), []byte("\x00not: [yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := s.AcquireLease(ctx, "t", "a", time.Second)
	if !errors.Is(err, ErrLeaseHeld) || !strings.Contains(err.Error(), "unreadable") {
		t.Fatalf("acquire over garbage: %v", err)
	}
	time.Sleep(1300 * time.Millisecond)
	if _, err := s.AcquireLease(ctx, "t", "a", time.Second); err != nil {
		t.Fatalf("acquire over stale garbage: %v", err)
	}
}

func TestStorageClock(t *testing.T) {
	ctx := context.Background()
	for _, be := range leaseBackends {
		s := be.open(t)
		before := time.Now().Add(-time.Minute)
		now, err := s.Now(ctx, "t")
		if err != nil || now.Before(before) || now.After(time.Now().Add(time.Minute)) {
			t.Errorf("%s: Now() = %v, %v", be.name, now, err)
		}
		if ok, _ := s.exists(ctx, "t/__time"); !ok {
			t.Errorf("%s: no t/__time object", be.name)
		}
	}
}

// TestLeaseRace: in every round, goroutines race for one lease (through two
// Store instances on the same directory for file storage); exactly one wins.
func TestLeaseRace(t *testing.T) {
	ctx := context.Background()
	rounds, racers := 100, 8
	if testing.Short() {
		rounds = 10
	}
	dir := t.TempDir()
	backends := []struct {
		name   string
		stores []*Store
	}{
		{"file", []*Store{fileStore(t, dir), fileStore(t, dir)}},
		{"mem", []*Store{memStore(t)}},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			for round := 0; round < rounds; round++ {
				var (
					wg      sync.WaitGroup
					mu      sync.Mutex
					winners []*Lease
					others  []error
				)
				for g := 0; g < racers; g++ {
					wg.Add(1)
					go func(g int) {
						defer wg.Done()
						s := be.stores[g%len(be.stores)]
						l, err := s.AcquireLease(ctx, "race", fmt.Sprintf("racer-%d", g), time.Minute)
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							winners = append(winners, l)
						case !errors.Is(err, ErrLeaseHeld):
							others = append(others, err)
						}
					}(g)
				}
				wg.Wait()
				if len(others) > 0 {
					t.Fatalf("round %d: unexpected errors %v", round, others)
				}
				if len(winners) != 1 {
					t.Fatalf("round %d: %d winners, want exactly 1", round, len(winners))
				}
				if err := winners[0].Renew(ctx); err != nil {
					t.Fatalf("round %d: winner cannot renew: %v", round, err)
				}
				if err := winners[0].Release(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
