package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultLeaseTTL is how long a lease outlives its holder's last renewal.
const DefaultLeaseTTL = 2 * time.Minute

// leaseDoc is the content of __lease.
type leaseDoc struct {
	Holder   string    `yaml:"holder"`
	Token    string    `yaml:"token"`
	Acquired time.Time `yaml:"acquired"`
	TTL      string    `yaml:"ttl"`
}

// Lease is a held topic lease. Renew it well within its TTL.
type Lease struct {
	s     *Store
	topic string
	doc   leaseDoc
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

// AcquireLease takes topic's lease for holder. If someone else holds a lease
// renewed within ttl (judged by the storage's clock) it fails with an error
// wrapping ErrLeaseHeld that names the holder.
func (s *Store) AcquireLease(ctx context.Context, topic, holder string, ttl time.Duration) (*Lease, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	now, err := s.Now(ctx, topic)
	if err != nil {
		return nil, err
	}
	var tok [12]byte
	_, _ = rand.Read(tok[:])
	l := &Lease{s: s, topic: topic, doc: leaseDoc{Holder: holder, Token: hex.EncodeToString(tok[:]), Acquired: now, TTL: ttl.String()}}
	body, _ := yaml.Marshal(&l.doc)
	key := leaseKey(topic)
	for attempt := 0; attempt < 3; attempt++ {
		err := s.createExclusive(ctx, key, body)
		if err == nil {
			return l, l.confirm(ctx)
		}
		if !errors.Is(err, errExists) {
			return nil, fmt.Errorf("lease %s: %w", key, err)
		}
		cur, mod, err := s.readLease(ctx, topic)
		if IsNotFound(err) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, err
		}
		if cur.Token == l.doc.Token {
			// Our create succeeded but its response was lost; the retry
			// found our own lease.
			return l, l.confirm(ctx)
		}
		if age := now.Sub(mod); age < ttl && !holderDead(cur.Holder) {
			return nil, fmt.Errorf("%w: topic %s is held by %s (renewed %s ago; taken over after %s without renewal)",
				ErrLeaseHeld, topic, cur.Holder, age.Round(time.Second), ttl)
		}
		// Stale: delete it only if it is still the lease we judged.
		again, _, err := s.readLease(ctx, topic)
		if err == nil && again.Token == cur.Token {
			if err := s.delete(ctx, key); err != nil {
				return nil, err
			}
		}
	}
	return nil, fmt.Errorf("%w: topic %s: lease is contended, try again", ErrLeaseHeld, topic)
}

func (s *Store) readLease(ctx context.Context, topic string) (leaseDoc, time.Time, error) {
	key := leaseKey(topic)
	b, err := s.read(ctx, key)
	if err != nil {
		return leaseDoc{}, time.Time{}, err
	}
	a, err := s.b.Attributes(ctx, key)
	if err != nil {
		if isNotFound(err) {
			return leaseDoc{}, time.Time{}, fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		return leaseDoc{}, time.Time{}, err
	}
	var d leaseDoc
	if err := yaml.Unmarshal(b, &d); err != nil {
		// An unreadable lease is treated as held by "unknown" until stale.
		d = leaseDoc{Holder: "unknown (unreadable __lease)"}
	}
	return d, a.ModTime, nil
}

// holderDead reports whether holder ("host:pid", the engine's default) is a
// process on this host that no longer runs: its lease is taken over at once
// instead of after the TTL.
func holderDead(holder string) bool {
	host, pidStr, ok := strings.Cut(holder, ":")
	if !ok {
		return false
	}
	me, err := os.Hostname()
	if err != nil || host != me {
		return false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return false
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

// confirm checks that the lease object is ours.
func (l *Lease) confirm(ctx context.Context) error {
	cur, _, err := l.s.readLease(ctx, l.topic)
	if err != nil {
		return fmt.Errorf("%w: topic %s: %v", ErrLeaseLost, l.topic, err)
	}
	if cur.Token != l.doc.Token {
		return fmt.Errorf("%w: topic %s is now held by %s", ErrLeaseLost, l.topic, cur.Holder)
	}
	return nil
}

// Renew refreshes the lease. It fails with ErrLeaseLost if another process
// took the lease over; the caller must then stop writing.
func (l *Lease) Renew(ctx context.Context) error {
	if err := l.confirm(ctx); err != nil {
		return err
	}
	body, _ := yaml.Marshal(&l.doc)
	return l.s.write(ctx, leaseKey(l.topic), body)
}

// Release deletes the lease if it is still ours.
func (l *Lease) Release(ctx context.Context) error {
	if err := l.confirm(ctx); err != nil {
		return nil //nolint:nilerr // not ours any more: nothing to release
	}
	return l.s.delete(ctx, leaseKey(l.topic))
}

// Holder returns the holder string of the lease.
func (l *Lease) Holder() string { return l.doc.Holder }
