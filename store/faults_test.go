package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// TestLeaseFaults runs lease rounds through a proxy that fails 5% of
// requests: exactly one racer wins each round, and a lease is acquired,
// renewed and released through the faults. (The backup through the same
// faults is engine/backup's TestBackupFaults.)
func TestLeaseFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs on the emulators; skipped with -short (make test runs it)")
	}
	for _, e := range emulators {
		t.Run(e.Name, func(t *testing.T) {
			host := e.Start(t)
			proxy := storetest.StartFaultProxy(t, host)
			proxy.SetFaults(0.05, storetest.Fault503, storetest.FaultReset, storetest.FaultResetAfter)
			phost := proxy.Host
			faulty := opener(t, e.URL(t, phost, "&prefix="+prefix))
			stores := []*store.Store{faulty(), faulty(), faulty()}
			store.RaceLease(t, stores, 10, 1, 6)
			l, err := faulty().AcquireLease(context.Background(), "orders", "faulty", time.Minute)
			if err != nil {
				t.Fatalf("lease through faults: %v", err)
			}
			if err := l.Renew(context.Background()); err != nil {
				t.Fatalf("renew through faults: %v", err)
			}
			if err := l.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
			faults, total := proxy.Faults()
			t.Logf("%d of %d requests failed by the proxy", faults, total)
			if faults == 0 {
				t.Fatal("the proxy injected no fault")
			}
		})
	}
}
