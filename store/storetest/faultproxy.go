package storetest

import (
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// FaultProxy forwards HTTP requests to an emulator and fails a fraction of
// them: a 503 without forwarding, a connection reset without forwarding, or
// a reset after forwarding (the server acted, the client never hears).
type FaultProxy struct {
	target string
	rate   float64
	mu     sync.Mutex
	rnd    *rand.Rand
	faults atomic.Int64
	total  atomic.Int64
}

// StartFaultProxy starts a FaultProxy to target (host:port) failing rate of
// the requests, closed with the test, and returns it and its host:port.
func StartFaultProxy(t testing.TB, target string, rate float64) (*FaultProxy, string) {
	p := &FaultProxy{target: target, rate: rate, rnd: rand.New(rand.NewPCG(1, 2))}
	ts := httptest.NewServer(p)
	t.Cleanup(ts.Close)
	return p, strings.TrimPrefix(ts.URL, "http://")
}

// ServeHTTP forwards r or fails it.
func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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

// Faults is how many requests the proxy failed.
func (p *FaultProxy) Faults() int64 { return p.faults.Load() }

// Requests is how many requests the proxy received.
func (p *FaultProxy) Requests() int64 { return p.total.Load() }
