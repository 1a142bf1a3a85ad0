package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/storetest"
)

// TestFaults runs a backup and lease rounds through a proxy that fails 5% of
// requests, then checks directly on the emulator that the backup is whole:
// every record, every indexed segment intact, no orphan or duplicate.
func TestFaults(t *testing.T) {
	for _, e := range emulators {
		t.Run(e.Name, func(t *testing.T) {
			host := e.Start(t)
			addr, want := seededCluster(t)
			proxy := storetest.StartFaultProxy(t, host)
			proxy.SetFaults(0.05, storetest.Fault503, storetest.FaultReset, storetest.FaultResetAfter)
			faulty := opener(t, e.URL(t, proxy.Host, "&prefix="+prefix))
			backupOnce(t, faulty(), addr)
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
			verifyBackup(t, opener(t, e.URL(t, host, "&prefix="+prefix))(), want)
		})
	}
}
