package store_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

// faultProxy forwards HTTP requests to an emulator and fails a fraction of
// them: a 503 without forwarding, a connection reset without forwarding, or
// a reset after forwarding (the server acted, the client never hears).
type faultProxy struct {
	target string
	rate   float64
	mu     sync.Mutex
	rnd    *rand.Rand
	faults atomic.Int64
	total  atomic.Int64
}

func startFaultProxy(t testing.TB, target string, rate float64) (*faultProxy, string) {
	p := &faultProxy{target: target, rate: rate, rnd: rand.New(rand.NewPCG(1, 2))}
	ts := httptest.NewServer(p)
	t.Cleanup(ts.Close)
	return p, strings.TrimPrefix(ts.URL, "http://")
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.total.Add(1)
	p.mu.Lock()
	x := p.rnd.Float64()
	p.mu.Unlock()
	fault := -1
	if x < p.rate {
		fault = int(x / p.rate * 3)
		p.faults.Add(1)
	}
	switch fault {
	case 0:
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "0")
		http.Error(w, "injected fault", http.StatusServiceUnavailable)
		return
	case 1:
		reset(w)
		return
	}
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host, out.Host, out.RequestURI = "http", p.target, p.target, ""
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if fault == 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		reset(w)
		return
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// reset closes the client's connection with a TCP RST.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// TestFaults runs a backup and lease rounds through a proxy that fails 5% of
// requests, then checks directly on the emulator that the backup is whole:
// every record, every indexed segment intact, no orphan or duplicate.
func TestFaults(t *testing.T) {
	for _, e := range emulators {
		t.Run(e.Name, func(t *testing.T) {
			host := e.Start(t)
			addr, want := seededCluster(t)
			proxy, phost := startFaultProxy(t, host, 0.05)
			faulty := opener(t, e.URL(t, phost, "&prefix="+prefix))
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
			t.Logf("%d of %d requests failed by the proxy", proxy.faults.Load(), proxy.total.Load())
			if proxy.faults.Load() == 0 {
				t.Fatal("the proxy injected no fault")
			}
			verifyBackup(t, opener(t, e.URL(t, host, "&prefix="+prefix))(), want)
		})
	}
}
