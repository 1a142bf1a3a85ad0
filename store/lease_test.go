package store

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// leaseBackends opens each storage kind the lease tests run on.
var leaseBackends = []struct {
	name string
	open func(t *testing.T) *Store
}{
	{"file", func(t *testing.T) *Store { return fileStore(t, "") }},
	{"mem", memStore},
}

// testLease acquires topic's lease for a test and releases it at cleanup.
func testLease(t testing.TB, s *Store, topic string) *Lease {
	t.Helper()
	l, err := s.AcquireLease(context.Background(), topic, "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Release(context.Background()) })
	return l
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
			if a.Holder() != "host-a pid 1" || a.Topic() != "orders" {
				t.Errorf("holder %q topic %q", a.Holder(), a.Topic())
			}
			if h, ok := a.TakenOver(); ok {
				t.Errorf("a free lease reports a takeover from %q", h)
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
			// The renewal goroutine keeps the lease fresh past its TTL.
			time.Sleep(ttl + 300*time.Millisecond)
			if _, err := s.AcquireLease(ctx, "orders", "host-b pid 2", ttl); !errors.Is(err, ErrLeaseHeld) {
				t.Fatalf("acquire of a lease its holder renews: %v, want ErrLeaseHeld", err)
			}
			if err := a.Check(); err != nil {
				t.Fatalf("renewed lease invalid: %v", err)
			}
			// Another topic is independent.
			o, err := s.AcquireLease(ctx, "other", "host-b pid 2", ttl)
			if err != nil {
				t.Fatalf("lease on another topic: %v", err)
			}
			defer o.Release(ctx)

			a.Freeze()
			time.Sleep(ttl + 300*time.Millisecond)
			if err := a.Check(); !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "no renewal succeeded") {
				t.Errorf("frozen holder's check past its deadline: %v, want ErrLeaseLost", err)
			}
			select {
			case <-a.Done():
			default:
				t.Error("Done not closed after the lease ended")
			}
			b, err := s.AcquireLease(ctx, "orders", "host-b pid 2", ttl)
			if err != nil {
				t.Fatalf("takeover of a stale lease: %v", err)
			}
			if h, ok := b.TakenOver(); !ok || h != "host-a pid 1" {
				t.Errorf("takeover reports (%q, %v), want host-a pid 1", h, ok)
			}
			if err := a.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
				t.Errorf("old holder's renew: %v, want ErrLeaseLost", err)
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
			if h, ok := c.TakenOver(); ok {
				t.Errorf("a released lease reports a takeover from %q", h)
			}
			if err := c.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLeaseRenewSeesTakeover: a holder whose lease was taken over while it
// still believed it valid learns it at its next renewal, and the error
// names the new holder.
func TestLeaseRenewSeesTakeover(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	a, err := s.AcquireLease(ctx, "t", "host-a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a.Freeze()
	if err := ForceTakeover(s, a); err != nil {
		t.Fatal(err)
	}
	b, err := s.AcquireLease(ctx, "t", "host-b", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release(ctx)
	if err := a.Check(); err != nil {
		t.Fatalf("a cannot know yet: %v", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "host-b") {
		t.Fatalf("renew after takeover: %v, want ErrLeaseLost naming host-b", err)
	}
	if err := a.Check(); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("check after a lost renewal: %v", err)
	}
	lctx, cancel := a.Context(ctx)
	defer cancel()
	if !errors.Is(context.Cause(lctx), ErrLeaseLost) {
		t.Errorf("lease context of a lost lease: cause %v", context.Cause(lctx))
	}
}

// TestLeaseUnreadable: garbage in a lease counts as held until it is stale.
func TestLeaseUnreadable(t *testing.T) {
	ctx := context.Background()
	for _, key := range []string{leaseKey("t"), registerKey(leasesKey("t"), 3)} {
		t.Run(key, func(t *testing.T) {
			t.Parallel() // each waits for its garbage to go stale
			s := memStore(t)
			if err := s.write(ctx, key, []byte("\x00not: [yaml")); err != nil {
				t.Fatal(err)
			}
			_, err := s.AcquireLease(ctx, "t", "a", time.Second)
			if !errors.Is(err, ErrLeaseHeld) || !strings.Contains(err.Error(), "unreadable") {
				t.Fatalf("acquire over garbage: %v", err)
			}
			time.Sleep(1300 * time.Millisecond)
			l, err := s.AcquireLease(ctx, "t", "a", time.Second)
			if err != nil {
				t.Fatalf("acquire over stale garbage: %v", err)
			}
			l.Release(ctx)
		})
	}
	t.Run("huge", func(t *testing.T) {
		s := memStore(t)
		if err := s.write(ctx, registerKey(leasesKey("t"), 1), make([]byte, maxLeaseBytes+1)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcquireLease(ctx, "t", "a", time.Second); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("acquire over an oversized lease entry: %v, want ErrCorrupt", err)
		}
	})
}

// TestLeaseHolderTTL: a holder's staleness is judged by the TTL it declared,
// not by the shorter one of a process that wants the lease.
func TestLeaseHolderTTL(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	a, err := s.AcquireLease(ctx, "t", "daemon", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(ctx)
	a.Freeze()
	time.Sleep(1200 * time.Millisecond)
	if _, err := s.AcquireLease(ctx, "t", "impatient", time.Second); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("a 1s-TTL contender took a 3s-TTL lease after 1.2s: %v", err)
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

// TestLeaseRaceStale: in every round, goroutines race for one lease
// (through two Store instances on the same directory for file storage);
// exactly one wins, whether the lease is free or stale. The conformance
// suite runs the same race on every backend.
func TestLeaseRaceStale(t *testing.T) {
	stale := 10
	if testing.Short() {
		stale = 2
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
			t.Parallel()
			RaceLease(t, be.stores, 20, stale, 8)
		})
	}
}

// TestProcessDead: the same-host shortcut takes a lease over at once only
// when its holder certainly no longer runs.
func TestProcessDead(t *testing.T) {
	me := currentProcess()
	if me == nil {
		t.Skip("no /proc")
	}
	gone := *me
	gone.PID = 1 << 22 // above pid_max's default: no such process
	for _, tt := range []struct {
		name string
		edit func(p *processID)
		dead bool
	}{
		{"this process", func(*processID) {}, false},
		{"exited", func(p *processID) { *p = gone }, true},
		{"PID reused", func(p *processID) { p.Start++ }, true},
		{"other PID namespace", func(p *processID) { *p = gone; p.PIDNS = "pid:[1]" }, false},
		{"other boot", func(p *processID) { *p = gone; p.BootID = "00000000-0000-0000-0000-000000000000" }, false},
		{"other host", func(p *processID) { *p = gone; p.Host = "elsewhere" }, false},
		{"unknown namespace", func(p *processID) { *p = gone; p.PIDNS = "" }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := *me
			tt.edit(&p)
			if got := p.dead(); got != tt.dead {
				t.Errorf("dead() = %v, want %v", got, tt.dead)
			}
		})
	}
}

// TestLeaseDeadHolderOnThisHost: a lease whose holder process on this
// machine is gone is taken over at once; one held by a live process, or by
// a process in another PID namespace of the same host name, is not.
func TestLeaseDeadHolderOnThisHost(t *testing.T) {
	ctx := context.Background()
	me := currentProcess()
	if me == nil {
		t.Skip("no /proc")
	}
	for _, tt := range []struct {
		name  string
		proc  processID
		taken bool
	}{
		{"exited", processID{Host: me.Host, BootID: me.BootID, PIDNS: me.PIDNS, PID: 1 << 22}, true},
		{"alive", *me, false},
		{"container sharing the host name", processID{Host: me.Host, BootID: me.BootID, PIDNS: "pid:[4026531836x]", PID: 1 << 22}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := memStore(t)
			doc := leaseDoc{Holder: "holder", Token: "tok", TTL: "1h", Process: &tt.proc}
			b, _ := yaml.Marshal(&doc)
			if err := s.createRegisterEntry(ctx, leasesKey("t"), 1, b); err != nil {
				t.Fatal(err)
			}
			l, err := s.AcquireLease(ctx, "t", "me", time.Hour)
			if tt.taken != (err == nil) {
				t.Fatalf("acquire: %v, want taken=%v", err, tt.taken)
			}
			if l != nil {
				l.Release(ctx)
			}
		})
	}
}

// TestLeaseLegacy: a format 1 __lease is honoured until a format 2 lease is
// taken, and a stale one is taken over.
func TestLeaseLegacy(t *testing.T) {
	ctx := context.Background()
	s := fileStore(t, "")
	doc := leaseDoc{Holder: "old kbackup", Token: "old", TTL: "2m0s"}
	b, _ := yaml.Marshal(&doc)
	if err := s.write(ctx, leaseKey("t"), b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(ctx, "t", "new", time.Minute); !errors.Is(err, ErrLeaseHeld) || !strings.Contains(err.Error(), "old kbackup") {
		t.Fatalf("acquire over a live format 1 lease: %v", err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(s.localPath(leaseKey("t")), old, old); err != nil {
		t.Fatal(err)
	}
	l, err := s.AcquireLease(ctx, "t", "new", time.Minute)
	if err != nil {
		t.Fatalf("acquire over a stale format 1 lease: %v", err)
	}
	l.Release(ctx)
}
