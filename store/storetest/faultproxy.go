package storetest

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// FaultProxy is an HTTP proxy on 127.0.0.1 in front of a storage emulator
// that behaves like a slow or failing object store: it adds a fixed latency
// to every request, fails a fraction of them (503, connection resets), and
// stalls chosen requests until the test releases them. It logs every
// request with the moment it arrived, so that a test can check what a
// client sent and when. Clients use Host in place of the emulator's.
//
// A request is read whole before anything else happens to it, and what the
// proxy decided to forward reaches the emulator even when the client has
// given up meanwhile: a request the network accepted may land late, and
// only storage-side conditions (or never sending it) stop it.
type FaultProxy struct {
	// Host is the proxy's HOST:PORT.
	Host   string
	target string
	srv    *httptest.Server

	mu      sync.Mutex
	latency time.Duration
	rate    float64
	kinds   []Fault
	rnd     *rand.Rand
	stalls  []*Stall
	log     []Request
}

// Fault is a kind of failure the proxy injects.
type Fault int

const (
	// Fault503 answers 503 Slow Down without forwarding the request.
	Fault503 Fault = iota + 1
	// FaultReset resets the connection without forwarding the request.
	FaultReset
	// FaultResetAfter forwards the request, then resets the connection
	// instead of answering: the server acted, the client never hears.
	FaultResetAfter
)

// Request is one request the proxy received.
type Request struct {
	Method string
	Path   string // the URL path, bucket included
	Query  string
	// Arrived is when the proxy received the request's headers.
	Arrived time.Time
	// Fault is the fault injected into it, if any.
	Fault Fault
	// Stalled tells whether a Stall held it.
	Stalled bool
	// Status is the emulator's answer (0: not forwarded, or no answer).
	Status int
}

// IsWrite reports whether r changes storage (PUT, POST or DELETE).
func (r Request) IsWrite() bool {
	return r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete
}

// StartFaultProxy starts a proxy in front of the emulator at target
// (HOST:PORT) that injects nothing until told to; it stops with the test.
func StartFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	p := &FaultProxy{target: target, rnd: rand.New(rand.NewPCG(1, 2))}
	p.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		p.mu.Lock()
		for _, s := range p.stalls {
			s.Release()
		}
		p.mu.Unlock()
		p.srv.Close()
	})
	p.Host = strings.TrimPrefix(p.srv.URL, "http://")
	return p
}

// SetLatency makes the proxy wait d before forwarding each request.
func (p *FaultProxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// SetFaults makes the proxy fail the fraction rate (0 to 1) of the
// requests that follow, with one of kinds chosen at random (Fault503 when
// none is given). SetFaults(0) stops injecting.
func (p *FaultProxy) SetFaults(rate float64, kinds ...Fault) {
	if len(kinds) == 0 {
		kinds = []Fault{Fault503}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate, p.kinds = rate, kinds
}

// Stall holds the first request that arrives from now on and for which
// match returns true, until Release. It is forwarded then, whether or not
// its client still waits.
func (p *FaultProxy) Stall(match func(r *http.Request) bool) *Stall {
	s := &Stall{match: match, caught: make(chan struct{}), release: make(chan struct{}), done: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalls = append(p.stalls, s)
	return s
}

// Stall is a request held by the proxy.
type Stall struct {
	match    func(r *http.Request) bool
	caught   chan struct{}
	release  chan struct{}
	done     chan struct{}
	once     sync.Once
	taken    bool
	req      Request
	gaveUp   bool // the client stopped waiting before the release
	released time.Time
}

// Caught is closed when the stall holds its request.
func (s *Stall) Caught() <-chan struct{} { return s.caught }

// Release forwards the held request (or lets the next match through at
// once, if none was caught yet).
func (s *Stall) Release() { s.once.Do(func() { close(s.release) }) }

// Wait waits until the released request was forwarded, and returns it with
// the emulator's answer and whether its client had given up by then.
func (s *Stall) Wait(ctx context.Context) (Request, bool, error) {
	select {
	case <-s.done:
		return s.req, s.gaveUp, nil
	case <-ctx.Done():
		return Request{}, false, ctx.Err()
	}
}

// Requests returns every request received so far, in order of arrival.
func (p *FaultProxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.log...)
}

// Faults returns how many requests got a fault, and how many arrived.
func (p *FaultProxy) Faults() (faults, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.log {
		if r.Fault != 0 {
			faults++
		}
	}
	return faults, len(p.log)
}

// ServeHTTP handles one request.
func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away mid-body: nothing to forward
	}
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Arrived: time.Now()}
	p.mu.Lock()
	var stall *Stall
	for _, s := range p.stalls {
		if !s.taken && s.match(r) {
			s.taken, stall = true, s
			req.Stalled = true
			break
		}
	}
	if stall == nil && p.rate > 0 && p.rnd.Float64() < p.rate {
		req.Fault = p.kinds[p.rnd.IntN(len(p.kinds))]
	}
	latency := p.latency
	i := len(p.log)
	p.log = append(p.log, req)
	p.mu.Unlock()

	if stall != nil {
		close(stall.caught)
		<-stall.release
		stall.released = time.Now()
		stall.gaveUp = r.Context().Err() != nil
	}
	switch req.Fault {
	case Fault503:
		w.Header().Set("Retry-After", "0")
		http.Error(w, "injected fault: slow down", http.StatusServiceUnavailable)
		return
	case FaultReset:
		reset(w)
		return
	}
	if latency > 0 {
		time.Sleep(latency)
	}
	// Forwarded even if the client gave up: the request is on its way.
	out := r.Clone(context.WithoutCancel(r.Context()))
	out.URL.Scheme, out.URL.Host, out.Host, out.RequestURI = "http", p.target, p.target, ""
	out.Body, out.ContentLength, out.TransferEncoding = io.NopCloser(bytes.NewReader(body)), int64(len(body)), nil
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		if stall != nil {
			stall.req = req
			close(stall.done)
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(resp.Body)
	p.mu.Lock()
	p.log[i].Status = resp.StatusCode
	req = p.log[i]
	p.mu.Unlock()
	if stall != nil {
		stall.req = req
		close(stall.done)
	}
	if req.Fault == FaultResetAfter {
		reset(w)
		return
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
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
