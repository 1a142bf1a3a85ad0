package backup

import (
	"context"
	"errors"
	"time"

	"github.com/kbackup/kbackup/store"
)

// A daemon runs for months: a storage write that fails once its retries
// are spent (a 503 storm, a reset connection, a full disk) must not stop
// it. The topic whose write failed is stopped as a recreated topic is
// (its other partitions store what they hold, its lease is released) and
// opened again from storage after a backoff: it resumes at the offsets its
// index holds, so Kafka, not memory, holds what the failed segment had.
// Nothing is lost while the records stay in Kafka, and nothing is stored
// twice, because a segment counts only once indexed (an unindexed one is
// an orphan, adopted or removed when the topic opens again).

// Restart backoff bounds: it doubles from the first to the last while the
// topic stores nothing between failures.
const (
	restartFirst = time.Second
	restartMax   = time.Minute
)

// brokenRun is a topic run stopped by a failed write.
type brokenRun struct {
	t   *topicRun
	err error
}

// retryState is when a broken topic may be opened again, and the backoff
// that got it there.
type retryState struct {
	at      time.Time
	backoff time.Duration
}

// restartable reports whether err, which stopped a partition writer, is
// worth opening its topic again for: a daemon's storage failure is; a
// refused record, a partition that went back, a format or key problem, or
// a one-shot run (which reports the error and is run again) is not.
func (b *backup) restartable(err error) bool {
	if b.opts.Once || b.wctx.Err() != nil {
		return false
	}
	for _, e := range []error{ErrOffsetRegressed, ErrRecreatedFlat, store.ErrRecordRefused, store.ErrFormat,
		store.ErrEncrypted, store.ErrNotEncrypted, store.ErrWrongKey, store.ErrLeaseLost, context.Canceled} {
		if errors.Is(err, e) {
			return false
		}
	}
	return true
}

// topicFailed is called (from a partition writer) when a write of t failed
// with a restartable error; the Run goroutine then restarts t
// (restartBroken).
func (b *backup) topicFailed(t *topicRun, err error) {
	b.endedMu.Lock()
	b.broken = append(b.broken, brokenRun{t, err})
	b.endedMu.Unlock()
	select {
	case b.endedSig <- struct{}{}:
	default:
	}
}

// restartBroken stops each topic run whose write failed and schedules the
// topic to be opened again by discovery once its backoff has passed.
func (b *backup) restartBroken() {
	b.endedMu.Lock()
	broken := b.broken
	b.broken = nil
	b.endedMu.Unlock()
	for _, r := range broken {
		t := r.t
		if b.topics[t.name] != t || t.lease.Err() != nil {
			continue // already stopped, or its lease ended: dropEnded's case
		}
		b.unconsume(t)
		_ = t.stop() // the other partitions store what they hold
		t.unwatch()
		ctx, cancel := context.WithTimeout(b.wctx, 10*time.Second)
		_ = t.lease.Release(ctx) // if storage still fails, the lease expires instead
		cancel()
		b.opts.Observer.LeaseEnded(t.name, false)
		delete(b.topics, t.name)
		b.done = append(b.done, t)

		st := b.retry[t.name]
		switch {
		case st.backoff == 0 || t.stored.Load() > 0:
			st.backoff = restartFirst // first failure, or progress since the last
		default:
			st.backoff = min(2*st.backoff, restartMax)
		}
		st.at = time.Now().Add(st.backoff)
		b.retry[t.name] = st
		b.opts.Logger.Error("storage write failed: stopped the topic; it resumes from what storage holds",
			"topic", t.name, "retry_in", st.backoff, "err", r.err)
	}
}

// waiting reports whether topic is broken and its backoff has not passed.
func (b *backup) waiting(topic string) bool {
	st, ok := b.retry[topic]
	return ok && time.Now().Before(st.at)
}
