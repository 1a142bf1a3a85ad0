package store

// This file exports test hooks to the external test package (store_test)
// and compiles into tests only.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// RaceLease runs rounds of racers contending for one lease over stores
// (independent handles on one storage) and fails the test unless exactly
// one wins every round. The first stale rounds start with a stale lease
// whose holder is frozen, so that the racers race to take it over, and the
// frozen holder must then fail to renew.
func RaceLease(t *testing.T, stores []*Store, rounds, stale, racers int) {
	t.Helper()
	ctx := context.Background()
	topic := fmt.Sprintf("race-%d", time.Now().UnixNano())
	const ttl = time.Second
	for round := 0; round < rounds; round++ {
		var frozen *Lease
		if round < stale {
			l, err := stores[0].AcquireLease(ctx, topic, "frozen", ttl)
			if err != nil {
				t.Fatalf("round %d: set-up acquire: %v", round, err)
			}
			l.Freeze()
			frozen = l
			time.Sleep(ttl + 1100*time.Millisecond) // storages that count whole seconds
		}
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
				s := stores[g%len(stores)]
				l, err := s.AcquireLease(ctx, topic, fmt.Sprintf("racer-%d", g), time.Minute)
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
		if frozen != nil {
			if err := frozen.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("round %d: the frozen holder renewed after the takeover: %v", round, err)
			}
		}
		if err := winners[0].Renew(ctx); err != nil {
			t.Fatalf("round %d: winner cannot renew: %v", round, err)
		}
		if err := winners[0].Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
