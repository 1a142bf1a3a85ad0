package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gopkg.in/yaml.v3"
)

// maxRequestBytes bounds a snapshot request object.
const maxRequestBytes = 64 << 10

// SnapshotRequest asks the backup process holding a topic's lease to cut a
// new snapshot version at its next discovery tick (kbackup snapshot create).
// Each request is its own object, <topic>/__snapshot_request.d/<token>, so
// that serving one never loses another made meanwhile.
type SnapshotRequest struct {
	Token     string    `yaml:"token"`
	Requested time.Time `yaml:"requested"`
	By        string    `yaml:"by"`
	Reason    string    `yaml:"reason"`

	key string // the object it was read from
}

// RequestSnapshot stores a snapshot request for topic and returns it. Anyone
// may call it: the lease holder acts on it.
func (s *Store) RequestSnapshot(ctx context.Context, topic, by, reason string) (*SnapshotRequest, error) {
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	r := &SnapshotRequest{Token: hex.EncodeToString(tok[:]), Requested: time.Now().UTC().Truncate(time.Second), By: by, Reason: reason}
	b, err := yaml.Marshal(r)
	if err != nil {
		return nil, err
	}
	r.key = requestObjKey(topic, r.Token)
	if err := s.writeDurable(ctx, r.key, b); err != nil {
		return nil, fmt.Errorf("request snapshot of %s: %w", topic, err)
	}
	return r, nil
}

// SnapshotRequests returns topic's pending snapshot requests, oldest first
// (none is not an error). A request that does not parse is returned with
// the reason "unreadable request", so that it is served and removed rather
// than blocking the others.
func (s *Store) SnapshotRequests(ctx context.Context, topic string) ([]*SnapshotRequest, error) {
	dir := requestsKey(topic)
	objs, err := s.b.ListAll(ctx, &blob.ListOptions{Prefix: dir, Delimiter: "/"})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	keys := []string{}
	for _, o := range objs {
		if !o.IsDir && !strings.HasSuffix(o.Key, ".tmp") && !strings.Contains(strings.TrimPrefix(o.Key, dir), "/") {
			keys = append(keys, o.Key)
		}
	}
	if ok, err := s.exists(ctx, requestKey(topic)); err == nil && ok {
		keys = append(keys, requestKey(topic)) // format 1's single request
	}
	var out []*SnapshotRequest
	for _, k := range keys {
		b, err := s.readLimited(ctx, k, maxRequestBytes)
		if IsNotFound(err) {
			continue // served meanwhile
		}
		r := SnapshotRequest{Reason: "unreadable request"}
		if err == nil {
			r = parseSnapshotRequest(b)
		}
		r.key = k
		out = append(out, &r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Requested.Before(out[j].Requested) })
	return out, nil
}

// parseSnapshotRequest decodes a request; one that does not parse reads as
// "unreadable request".
func parseSnapshotRequest(b []byte) SnapshotRequest {
	var r SnapshotRequest
	if yaml.Unmarshal(b, &r) != nil {
		return SnapshotRequest{Reason: "unreadable request"}
	}
	return r
}

// ClearSnapshotRequests deletes the given requests, once served. Requests
// made meanwhile are other objects and stay.
func (s *Store) ClearSnapshotRequests(ctx context.Context, reqs []*SnapshotRequest) error {
	for _, r := range reqs {
		if r.key == "" {
			continue
		}
		if err := s.delete(ctx, r.key); err != nil {
			return err
		}
	}
	return nil
}
