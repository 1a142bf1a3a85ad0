package store_test

import (
	"os"
	"testing"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// TestConformance runs the exported conformance suite on every backend.
func TestConformance(t *testing.T) {
	forEachBackend(t, storetest.RunConformance)
}

// lease is the conformance suite's lease helper, which store's other
// tests use too.
var lease = storetest.Lease

// TestLeaseRace races eight writers, each with its own Store, for one
// lease: never more than one may win a round, whether the lease is free or
// stale. make soak (KBACKUP_SOAK=1) runs 100 rounds, every one of them a
// stale takeover.
func TestLeaseRace(t *testing.T) {
	rounds, stale := 30, 3
	if os.Getenv("KBACKUP_SOAK") != "" {
		rounds, stale = 100, 100
	}
	if testing.Short() {
		rounds, stale = 10, 1
	}
	forEachBackend(t, func(t *testing.T, url, _ string) {
		open := opener(t, url)
		stores := make([]*store.Store, 8)
		for i := range stores {
			stores[i] = open()
		}
		store.RaceLease(t, stores, max(rounds, stale), stale, 8)
	})
}
