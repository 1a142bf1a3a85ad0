package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultLeaseTTL is how long a lease outlives its holder's last renewal.
const DefaultLeaseTTL = 2 * time.Minute

// maxLeaseBytes bounds a lease entry (a few hundred bytes when written).
const maxLeaseBytes = 64 << 10

// leaseDoc is the content of a lease register entry.
type leaseDoc struct {
	Holder   string     `yaml:"holder"`
	Token    string     `yaml:"token"`
	Acquired time.Time  `yaml:"acquired"`
	TTL      string     `yaml:"ttl"`
	Released bool       `yaml:"released,omitempty"`
	Process  *processID `yaml:"process,omitempty"`
}

// Lease is a held topic lease: the right to write the topic's manifest,
// index and segments. A goroutine renews it every TTL/4 until Release. The
// lease stops being valid, for good, when another process takes it over or
// when no renewal has succeeded for the TTL minus a safety margin; every
// write of the store checks it first (Check) and the conditional writes of
// the index and manifest registers make a holder that missed the moment
// fail at the storage. Done and Context tell the holder at once.
type Lease struct {
	s      *Store
	topic  string
	doc    leaseDoc
	ttl    time.Duration
	margin time.Duration

	rmu sync.Mutex // serialises Renew and Release

	mu       sync.Mutex
	gen      int64     // the register entry this holder wrote last
	deadline time.Time // local clock: valid until then unless renewed
	err      error     // why the lease ended; never cleared
	// mseq is the manifest entry this holder fenced or wrote last;
	// mfenced tells whether it did (FenceManifest).
	mseq    int64
	mfenced bool
	// prev names the holder whose unreleased lease this one took over;
	// tookOver tells whether it did.
	prev     string
	tookOver bool

	ctx    context.Context // cancelled when the lease ends
	cancel context.CancelCauseFunc
	stop   context.CancelFunc // stops the renewal goroutine
	kept   chan struct{}      // closed when the renewal goroutine exits
}

// leaseMargin is how long before its TTL runs out, counted from the start
// of its last successful renewal, a holder stops writing: it covers storage
// clocks that report whole seconds and clocks that run at slightly
// different rates.
func leaseMargin(ttl time.Duration) time.Duration {
	return min(max(ttl/4, 2*time.Second), ttl/2)
}

// Now returns the storage's clock, read by writing topic's __time object and
// reading back its modification time.
func (s *Store) Now(ctx context.Context, topic string) (time.Time, error) {
	key := timeKey(topic)
	if err := s.write(ctx, key, []byte("kbackup storage clock\n")); err != nil {
		return time.Time{}, err
	}
	a, err := s.b.Attributes(ctx, key)
	if err != nil {
		return time.Time{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return a.ModTime, nil
}

// leaseTries bounds how often AcquireLease judges the lease again after
// losing a takeover race.
const leaseTries = 3

// AcquireLease takes topic's lease for holder. If someone else holds a lease
// renewed within ttl (judged by the storage's clock) it fails with an error
// wrapping ErrLeaseHeld that names the holder. A stale lease, a released
// one, and one whose holder is a dead process on this very machine are
// taken over; of several processes taking over at once exactly one wins.
// The caller must Release the lease.
func (s *Store) AcquireLease(ctx context.Context, topic, holder string, ttl time.Duration) (*Lease, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if err := s.checkPlain(ctx); err != nil {
		return nil, err
	}
	var tok [12]byte
	_, _ = rand.Read(tok[:])
	dir := leasesKey(topic)
	for try := 0; try < leaseTries; try++ {
		now, err := s.Now(ctx, topic)
		if err != nil {
			return nil, err
		}
		cur, err := s.readLeaseEntry(ctx, topic)
		if err != nil && !IsNotFound(err) {
			return nil, err
		}
		var gen int64
		if cur != nil {
			gen = cur.seq
			if err := judgeLease(topic, cur, now, ttl); err != nil {
				return nil, err
			}
		}
		l := &Lease{s: s, topic: topic, ttl: ttl, margin: leaseMargin(ttl),
			doc: leaseDoc{Holder: holder, Token: hex.EncodeToString(tok[:]), Acquired: now, TTL: ttl.String(), Process: currentProcess()}}
		body, err := yaml.Marshal(&l.doc)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		err = s.createRegisterEntry(ctx, dir, gen+1, body)
		if errors.Is(err, errExists) {
			if !l.ownsEntry(ctx, gen+1) {
				continue // another process won this takeover: judge again
			}
			err = nil
		}
		if err != nil {
			return nil, fmt.Errorf("lease %s: %w", registerKey(dir, gen+1), err)
		}
		// Entry gen+1 may have existed and been pruned while this process
		// stood still between judging and creating: then it is not the
		// newest entry, and the lease is someone else's.
		if now, err := s.readRegister(ctx, dir, maxLeaseBytes); err != nil {
			return nil, err
		} else if now.seq != gen+1 {
			continue
		}
		l.start(gen+1, start)
		if cur != nil && !cur.doc.Released {
			l.prev, l.tookOver = cur.doc.Holder, true
		}
		if cur != nil {
			s.pruneRegister(ctx, nil, dir, append(cur.older, gen-1)...)
		}
		return l, nil
	}
	return nil, fmt.Errorf("%w: topic %s: lease is contended, try again", ErrLeaseHeld, topic)
}

// leaseEntry is the newest lease register entry, decoded.
type leaseEntry struct {
	*regEntry
	doc leaseDoc
}

// readLeaseEntry reads topic's newest lease entry. A topic written by
// format 1 has its lease in the single object __lease, which counts as
// entry 0 until the register has one.
func (s *Store) readLeaseEntry(ctx context.Context, topic string) (*leaseEntry, error) {
	e, err := s.readRegister(ctx, leasesKey(topic), maxLeaseBytes)
	if IsNotFound(err) {
		e, err = s.readLegacyLease(ctx, topic)
	}
	if err != nil {
		return nil, err
	}
	return &leaseEntry{regEntry: e, doc: parseLeaseDoc(e.data)}, nil
}

// parseLeaseDoc decodes a lease entry. An unreadable one is held by
// "unknown" until stale.
func parseLeaseDoc(b []byte) leaseDoc {
	var d leaseDoc
	if err := yaml.Unmarshal(b, &d); err != nil || d.Token == "" {
		return leaseDoc{Holder: "unknown (unreadable lease entry)"}
	}
	if len(d.Holder) > 1024 {
		d.Holder = d.Holder[:1024] + "…"
	}
	return d
}

// readLegacyLease reads format 1's __lease as register entry 0.
func (s *Store) readLegacyLease(ctx context.Context, topic string) (*regEntry, error) {
	key := leaseKey(topic)
	data, err := s.readLimited(ctx, key, maxLeaseBytes)
	if err != nil {
		return nil, err
	}
	a, err := s.b.Attributes(ctx, key)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("stat %s: %w", key, err)
	}
	return &regEntry{seq: 0, data: data, mod: a.ModTime}, nil
}

// judgeLease fails with ErrLeaseHeld when cur is a live lease. Its age is
// judged against the TTL its holder declared (its renewals are paced by
// it), or ttl when it declared none.
func judgeLease(topic string, cur *leaseEntry, now time.Time, ttl time.Duration) error {
	if cur.doc.Released {
		return nil
	}
	if cur.doc.Process != nil && cur.doc.Process.dead() {
		return nil // its process on this machine is gone
	}
	if d, err := time.ParseDuration(cur.doc.TTL); err == nil && d > 0 {
		ttl = d
	}
	if age := now.Sub(cur.mod); age < ttl {
		return fmt.Errorf("%w: topic %s is held by %s (renewed %s ago; taken over after %s without renewal)",
			ErrLeaseHeld, topic, cur.doc.Holder, age.Round(time.Second), ttl)
	}
	return nil
}

// ownsEntry reports whether lease entry gen carries l's token: a create
// whose response was lost and whose retry found the object.
func (l *Lease) ownsEntry(ctx context.Context, gen int64) bool {
	data, err := l.s.readRegisterEntry(ctx, leasesKey(l.topic), gen, maxLeaseBytes)
	if err != nil {
		return false
	}
	var d leaseDoc
	return yaml.Unmarshal(data, &d) == nil && d.Token == l.doc.Token
}

// start records entry gen, written by a request sent at sent, and starts
// the renewal goroutine.
func (l *Lease) start(gen int64, sent time.Time) {
	l.gen = gen
	l.deadline = sent.Add(l.ttl - l.margin)
	l.ctx, l.cancel = context.WithCancelCause(context.Background())
	kctx, stop := context.WithCancel(context.Background())
	l.stop = stop
	l.kept = make(chan struct{})
	go l.keep(kctx)
}

// keep renews the lease every TTL/4, and more often after a failure, until
// stopped or until the lease ends. Renewals are due TTL/4 after the last
// successful one was sent, not after it returned: on a slow storage the
// requests of a renewal (and of the acquisition, which reads the register
// back) take a large share of the TTL, and counting from their end let the
// deadline pass before the next renewal was sent. Each try is bounded by
// TTL/4 as well, so that one stalled request is abandoned and retried
// while the lease still has time (a retried create that landed is
// recognised by its token).
func (l *Lease) keep(ctx context.Context) {
	defer close(l.kept)
	every := l.ttl / 4
	var retry time.Time // after a failed renewal: when to try again
	for {
		deadline := l.deadlineNow()
		left := time.Until(deadline)
		if left <= 0 {
			l.end(fmt.Errorf("%w: topic %s: no renewal succeeded within %s (TTL %s minus a %s safety margin); another process may take it over, so this one writes nothing more",
				ErrLeaseLost, l.topic, l.ttl-l.margin, l.ttl, l.margin))
			return
		}
		next := deadline.Add(every - (l.ttl - l.margin)) // last renewal sent + every
		if !retry.IsZero() {
			next = retry
		}
		t := time.NewTimer(min(time.Until(next), left))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-l.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if time.Until(l.deadlineNow()) <= 0 {
			continue // ends the lease at the top of the loop
		}
		try := time.Now().Add(every)
		if d := l.deadlineNow(); d.Before(try) {
			try = d
		}
		rctx, cancel := context.WithDeadline(ctx, try)
		err := l.Renew(rctx)
		cancel()
		switch {
		case err == nil:
			retry = time.Time{}
		case errors.Is(err, ErrLeaseLost):
			return
		default:
			retry = time.Now().Add(min(every, max(time.Second, every/8))) // try again soon
		}
	}
}

func (l *Lease) deadlineNow() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

// end marks the lease ended with err, once.
func (l *Lease) end(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
		l.cancel(err)
	}
}

// Check returns nil while the lease is valid: not taken over, released or
// past its local deadline. Writers call it before every write.
func (l *Lease) Check() error {
	l.mu.Lock()
	err := l.err
	expired := err == nil && !time.Now().Before(l.deadline)
	l.mu.Unlock()
	if expired {
		l.end(fmt.Errorf("%w: topic %s: no renewal succeeded within %s (TTL %s minus a %s safety margin); another process may take it over, so this one writes nothing more",
			ErrLeaseLost, l.topic, l.ttl-l.margin, l.ttl, l.margin))
		return l.Err()
	}
	return err
}

// Err returns why the lease ended (wrapping ErrLeaseLost, or errReleased
// after Release), or nil while it is valid.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Done is closed when the lease ends.
func (l *Lease) Done() <-chan struct{} { return l.ctx.Done() }

// Context returns a context derived from parent that is cancelled, with
// the lease's error as its cause, when the lease ends: writes made under
// it are abandoned by the storage client instead of completing late.
func (l *Lease) Context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	if l.ctx.Err() != nil {
		cancel(context.Cause(l.ctx))
	}
	stop := context.AfterFunc(l.ctx, func() { cancel(context.Cause(l.ctx)) })
	return ctx, func() {
		stop()
		cancel(context.Canceled)
	}
}

// Renew writes the lease's next register entry. It fails with an error
// wrapping ErrLeaseLost if another process took the lease over (the entry
// exists) or if the lease already ended; the holder must then stop
// writing. Other errors are transient: the lease stays valid until its
// deadline.
func (l *Lease) Renew(ctx context.Context) error {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if err := l.Check(); err != nil {
		return err
	}
	body, err := yaml.Marshal(&l.doc)
	if err != nil {
		return err
	}
	dir := leasesKey(l.topic)
	next := l.gen + 1
	sent := time.Now()
	err = l.s.createRegisterEntry(ctx, dir, next, body)
	if errors.Is(err, errExists) {
		if !l.ownsEntry(ctx, next) {
			holder := "another process"
			if cur, rerr := l.s.readLeaseEntry(ctx, l.topic); rerr == nil {
				holder = cur.doc.Holder
			}
			l.end(fmt.Errorf("%w: topic %s is now held by %s", ErrLeaseLost, l.topic, holder))
			return l.Err()
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("renew lease of %s: %w", l.topic, err)
	}
	l.mu.Lock()
	l.gen = next
	if l.err == nil {
		l.deadline = sent.Add(l.ttl - l.margin)
	}
	l.mu.Unlock()
	l.s.pruneRegister(ctx, nil, dir, next-2)
	return nil
}

// Release stops renewing and gives the lease up, so that the next process
// takes it at once. It is a no-op when the lease already ended.
func (l *Lease) Release(ctx context.Context) error {
	l.stop()
	<-l.kept
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if l.Check() != nil {
		return nil // not ours any more: nothing to release
	}
	l.end(errReleased)
	doc := l.doc
	doc.Released = true
	body, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	err = l.s.createRegisterEntry(ctx, leasesKey(l.topic), l.gen+1, body)
	if errors.Is(err, errExists) {
		return nil // taken over meanwhile
	}
	if err != nil {
		return fmt.Errorf("release lease of %s: %w", l.topic, err)
	}
	l.s.pruneRegister(ctx, nil, leasesKey(l.topic), l.gen-1)
	return nil
}

// Holder returns the holder string of the lease.
func (l *Lease) Holder() string { return l.doc.Holder }

// TakenOver returns the holder whose unreleased lease this one took over
// (stale, or left by a dead process), and false when the lease was free or
// released.
func (l *Lease) TakenOver() (holder string, ok bool) { return l.prev, l.tookOver }

// Topic returns the topic the lease is for.
func (l *Lease) Topic() string { return l.topic }

// Token returns the lease's token, unique to this acquisition; writers
// record it in what they write.
func (l *Lease) Token() string { return l.doc.Token }

// checkFor returns nil if l is valid and for topic: the guard of every
// fenced write.
func (l *Lease) checkFor(topic string) error {
	if l == nil {
		return fmt.Errorf("write to topic %s without its lease: %w", topic, ErrLeaseLost)
	}
	if l.topic != topic {
		return fmt.Errorf("write to topic %s under the lease of topic %s: %w", topic, l.topic, ErrLeaseLost)
	}
	return l.Check()
}

func (l *Lease) setManifestSeq(seq int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mseq, l.mfenced = seq, true
}

func (l *Lease) manifestSeq() (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mseq, l.mfenced
}

// LeaseInfo describes a topic's lease as storage holds it.
type LeaseInfo struct {
	Holder   string
	Acquired time.Time
	// Renewed is the storage time of the holder's last write.
	Renewed  time.Time
	TTL      string
	Released bool
}

// ReadLease returns what storage says of topic's lease, or an error
// wrapping ErrNotFound when no lease was ever taken.
func (s *Store) ReadLease(ctx context.Context, topic string) (*LeaseInfo, error) {
	e, err := s.readLeaseEntry(ctx, topic)
	if err != nil {
		return nil, err
	}
	return &LeaseInfo{Holder: e.doc.Holder, Acquired: e.doc.Acquired, Renewed: e.mod, TTL: e.doc.TTL, Released: e.doc.Released}, nil
}

// BreakLease releases topic's lease on behalf of by, whoever holds it, so
// that the next AcquireLease takes it at once: for an operator who knows
// the holder is gone and cannot wait for the TTL. It is safe even if the
// holder is alive: the new holder's first writes fence it (§7.3 of
// docs/storage-format.md), and it stops writing at its next attempt.
func (s *Store) BreakLease(ctx context.Context, topic, by string) error {
	dir := leasesKey(topic)
	for try := 0; try < leaseTries; try++ {
		cur, err := s.readRegister(ctx, dir, maxLeaseBytes)
		var gen int64
		switch {
		case err == nil:
			gen = cur.seq
		case !IsNotFound(err):
			return err
		}
		doc := leaseDoc{Holder: by, Token: "broken", Released: true}
		body, err := yaml.Marshal(&doc)
		if err != nil {
			return err
		}
		err = s.createRegisterEntry(ctx, dir, gen+1, body)
		if errors.Is(err, errExists) {
			continue
		}
		return err
	}
	return fmt.Errorf("%w: topic %s: lease is contended, try again", ErrLeaseHeld, topic)
}
