package store

import (
	"context"
	"sync"
)

// Budget is a semaphore of bytes: the memory that buffers sharing it may
// hold together. It is safe for concurrent use.
//
// TryAcquire never waits, so a holder that cannot get more memory takes
// its degraded path at once (a segment spills to its spool file); Acquire
// waits, and is only for callers whose wait ends when other holders
// release (records handed to partition writers that never wait on the
// budget themselves). Force takes memory past the limit for the few bytes
// that cannot be spilled; InUse then exceeds Limit, and Over counts it.
type Budget struct {
	limit int64

	mu      sync.Mutex
	used    int64
	peak    int64
	over    int64 // bytes taken by Force beyond the limit, in total
	waiters []budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

// NewBudget returns a budget of limit bytes (at least 1).
func NewBudget(limit int64) *Budget {
	return &Budget{limit: max(limit, 1)}
}

// Limit returns the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// TryAcquire takes n bytes if they are free now, and reports whether it
// did. It fails while someone waits in Acquire, so that waiters are not
// starved.
func (b *Budget) TryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || b.used+n > b.limit {
		return false
	}
	b.take(n)
	return true
}

// Force takes n bytes even past the limit.
func (b *Budget) Force(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if over := b.used + n - b.limit; over > 0 {
		b.over += min(over, n)
	}
	b.take(n)
}

// Acquire takes n bytes, waiting until they are free or ctx is done (then
// it returns ctx's error and takes nothing). A request larger than the
// whole budget takes the whole budget: the caller gets its turn alone.
// It returns the bytes taken, which the caller releases.
func (b *Budget) Acquire(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.limit)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.limit {
		b.take(n)
		b.mu.Unlock()
		return n, nil
	}
	w := budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.used -= n
			b.wake()
		default:
			for i := range b.waiters {
				if b.waiters[i].ready == w.ready {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
			b.wake()
		}
		return 0, ctx.Err()
	}
}

// Release gives back n bytes taken by TryAcquire, Force or Acquire.
func (b *Budget) Release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.used < 0 {
		panic("store: budget released more than was acquired")
	}
	b.wake()
}

// InUse returns the bytes taken now.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Peak returns the most bytes taken at once.
func (b *Budget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// Over returns the bytes Force took beyond the limit, in total.
func (b *Budget) Over() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}

func (b *Budget) take(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// wake grants waiters in order while they fit. The caller holds mu.
func (b *Budget) wake() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.limit {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.take(w.n)
		close(w.ready)
	}
}
