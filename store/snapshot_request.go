package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// SnapshotRequest asks the backup process holding a topic's lease to cut a
// new snapshot version at its next discovery tick (kbackup snapshot create).
// It is stored in <topic>/__snapshot_request.
type SnapshotRequest struct {
	Token     string    `yaml:"token"`
	Requested time.Time `yaml:"requested"`
	By        string    `yaml:"by"`
	Reason    string    `yaml:"reason"`
}

// RequestSnapshot stores a snapshot request for topic, replacing any pending
// one, and returns it with its token set. Anyone may call it: the lease
// holder acts on it.
func (s *Store) RequestSnapshot(ctx context.Context, topic, by, reason string) (*SnapshotRequest, error) {
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	r := &SnapshotRequest{Token: hex.EncodeToString(tok[:]), Requested: time.Now().UTC().Truncate(time.Second), By: by, Reason: reason}
	b, err := yaml.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := s.write(ctx, requestKey(topic), b); err != nil {
		return nil, fmt.Errorf("request snapshot of %s: %w", topic, err)
	}
	return r, nil
}

// ReadSnapshotRequest returns topic's pending snapshot request, or an error
// wrapping ErrNotFound when there is none.
func (s *Store) ReadSnapshotRequest(ctx context.Context, topic string) (*SnapshotRequest, error) {
	b, err := s.read(ctx, requestKey(topic))
	if err != nil {
		return nil, err
	}
	var r SnapshotRequest
	if err := yaml.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: snapshot request of %s: %v", ErrCorrupt, topic, err)
	}
	return &r, nil
}

// ClearSnapshotRequest deletes topic's snapshot request if it is still the
// one with token, so that a request made meanwhile is not lost. A missing
// request is not an error.
func (s *Store) ClearSnapshotRequest(ctx context.Context, topic, token string) error {
	r, err := s.ReadSnapshotRequest(ctx, topic)
	if IsNotFound(err) {
		return nil
	}
	if err == nil && r.Token != token {
		return nil
	}
	return s.delete(ctx, requestKey(topic))
}
