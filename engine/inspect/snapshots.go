package inspect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kbackup/kbackup/store"
)

// SnapshotView describes one snapshot version for listings.
type SnapshotView struct {
	Version      int             `json:"version" yaml:"version"`
	TopicID      string          `json:"topic_id" yaml:"topic_id"`
	Created      time.Time       `json:"created" yaml:"created"`
	Archived     *time.Time      `json:"archived,omitempty" yaml:"archived,omitempty"`
	Reason       string          `json:"reason,omitempty" yaml:"reason,omitempty"`
	Partitions   int32           `json:"partitions" yaml:"partitions"`
	StartOffsets map[int32]int64 `json:"start_offsets,omitempty" yaml:"start_offsets,omitempty"`
	Active       bool            `json:"active" yaml:"active"`
	// Groups summarises the consumer-group captures (absent without any).
	Groups *GroupsDescription `json:"groups,omitempty" yaml:"groups,omitempty"`
}

// TopicSnapshots is one topic's snapshot list. Flat-layout topics have
// Layout "flat" and the single version 0.
type TopicSnapshots struct {
	Topic     string         `json:"topic" yaml:"topic"`
	Layout    string         `json:"layout" yaml:"layout"`
	Active    int            `json:"active" yaml:"active"`
	Snapshots []SnapshotView `json:"snapshots" yaml:"snapshots"`
	// Retention is the retention policy in force, as the daemon recorded
	// it ("" when segments are kept forever).
	Retention string `json:"retention" yaml:"retention"`
}

// ListSnapshots returns topic's snapshot versions from its manifest. It
// fails with an error wrapping store.ErrNotFound when topic has no backup.
func ListSnapshots(ctx context.Context, st *store.Store, topic string) (*TopicSnapshots, error) {
	m, err := st.ReadManifest(ctx, topic)
	if err != nil {
		return nil, err
	}
	ts := &TopicSnapshots{Topic: topic, Layout: "snapshots", Active: m.Active, Snapshots: []SnapshotView{}}
	if p := m.RetentionPolicy(); p > 0 {
		ts.Retention = p.String()
	}
	if len(m.Snapshots) == 1 && m.Snapshots[0].Version == 0 {
		ts.Layout = "flat"
	}
	for _, s := range m.Snapshots {
		gd, err := describeGroups(ctx, st, store.Loc{Topic: topic, Version: s.Version})
		if err != nil {
			return nil, err
		}
		ts.Snapshots = append(ts.Snapshots, SnapshotView{
			Version: s.Version, TopicID: s.TopicID, Created: s.Created.UTC(), Archived: s.Archived,
			Reason: s.Reason, Partitions: s.Partitions, StartOffsets: s.StartOffsets, Active: s.Version == m.Active,
			Groups: gd,
		})
	}
	return ts, nil
}

// CreateSnapshotResult reports a snapshot create.
type CreateSnapshotResult struct {
	Topic    string `json:"topic" yaml:"topic"`
	Archived int    `json:"archived" yaml:"archived"`
	Version  int    `json:"version" yaml:"version"`
	// ByDaemon is true when the running backup cut the version on request.
	ByDaemon bool `json:"by_daemon" yaml:"by_daemon"`
}

// CreateSnapshotOptions configures CreateSnapshot.
type CreateSnapshotOptions struct {
	// Holder names this process in the lease (default "kbackup snapshot create").
	Holder string
	// LeaseTTL is the lease TTL used when no daemon runs (default 2m).
	LeaseTTL time.Duration
	// Wait bounds how long to wait for a running daemon (default 30s).
	Wait time.Duration
	// Poll is how often to check the manifest while waiting (default 250ms).
	Poll time.Duration
	// Waiting, if set, is called once a request was left for a running
	// backup, before the wait for it starts.
	Waiting func(topic string, wait time.Duration)
}

// CreateSnapshot cuts a new snapshot version of topic. If no backup holds
// the topic's lease it takes the lease and rotates the manifest itself: the
// new version continues at the active version's next offsets. Otherwise it
// leaves a request that the daemon serves at its next discovery tick, and
// waits up to opts.Wait for the manifest to show the new version. A flat-
// layout topic fails with ErrFlatLayout.
func CreateSnapshot(ctx context.Context, st *store.Store, topic string, opts CreateSnapshotOptions) (*CreateSnapshotResult, error) {
	if opts.Holder == "" {
		opts.Holder = "kbackup snapshot create"
	}
	if opts.Wait <= 0 {
		opts.Wait = 30 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 250 * time.Millisecond
	}
	m, err := st.ReadManifest(ctx, topic)
	if err != nil {
		return nil, err
	}
	if m.Active == 0 {
		return nil, fmt.Errorf("topic %s: %w", topic, ErrFlatLayout)
	}
	lease, err := st.AcquireLease(ctx, topic, opts.Holder, opts.LeaseTTL)
	if errors.Is(err, store.ErrLeaseHeld) {
		return requestSnapshot(ctx, st, topic, m.Active, opts)
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	return cutOffline(ctx, st, lease)
}

// cutOffline rotates the manifest of lease's topic while holding the lease.
// The active version's index is taken over first, so that a process that
// held the topic before cannot add to the version once it is archived.
func cutOffline(ctx context.Context, st *store.Store, lease *store.Lease) (*CreateSnapshotResult, error) {
	topic := lease.Topic()
	m, err := st.FenceManifest(ctx, lease)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("topic %q has no backup in storage: %w", topic, store.ErrNotFound)
	}
	old := m.Active
	loc := store.Loc{Topic: topic, Version: old}
	if _, err := st.OpenIndexWriter(ctx, lease, loc); err != nil {
		return nil, err
	}
	ix, err := st.ReadIndex(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("read index of %s: %w", loc, err)
	}
	var v int
	_, err = st.UpdateManifest(ctx, lease, func(m *store.Manifest) error {
		var prev map[int32]int64
		if a := m.ActiveSnapshot(); a != nil {
			prev = a.StartOffsets
		}
		v, err = m.Cut(time.Now(), "snapshot create", ix.NextOffsets(prev))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &CreateSnapshotResult{Topic: topic, Archived: old, Version: v}, nil
}

// requestSnapshot asks the daemon holding topic's lease to cut a version and
// waits for the manifest to show it.
func requestSnapshot(ctx context.Context, st *store.Store, topic string, old int, opts CreateSnapshotOptions) (*CreateSnapshotResult, error) {
	if _, err := st.RequestSnapshot(ctx, topic, opts.Holder, "snapshot create"); err != nil {
		return nil, err
	}
	if opts.Waiting != nil {
		opts.Waiting(topic, opts.Wait)
	}
	deadline := time.NewTimer(opts.Wait)
	defer deadline.Stop()
	tick := time.NewTicker(opts.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fmt.Errorf("topic %s is held by a running backup that did not cut a new version within %s; the request stays in storage and is served when that backup next looks for topics (is it a kbackup with snapshot support?)", topic, opts.Wait)
		case <-tick.C:
			m, err := st.ReadManifest(ctx, topic)
			if err != nil {
				return nil, err
			}
			if m.Active > old {
				return &CreateSnapshotResult{Topic: topic, Archived: old, Version: m.Active, ByDaemon: true}, nil
			}
		}
	}
}

// DeleteSnapshotResult reports a snapshot delete.
type DeleteSnapshotResult struct {
	Topic   string `json:"topic" yaml:"topic"`
	Version int    `json:"version" yaml:"version"`
	Objects int    `json:"objects" yaml:"objects"`
	Bytes   int64  `json:"bytes" yaml:"bytes"`
}

// DeleteSnapshot deletes version sel ("N" or "vN") of topic: its manifest
// entry, then its index and segments. It takes the topic's lease, so it
// never races a backup of the topic: while one runs it fails with
// store.ErrLeaseHeld. The active version cannot be deleted.
func DeleteSnapshot(ctx context.Context, st *store.Store, topic, sel string, opts CreateSnapshotOptions) (*DeleteSnapshotResult, error) {
	if opts.Holder == "" {
		opts.Holder = "kbackup snapshot delete"
	}
	v, err := strconv.Atoi(strings.TrimPrefix(sel, "v"))
	if err != nil || v < 1 {
		return nil, fmt.Errorf("snapshot %q is not a version: use N or vN", sel)
	}
	m, err := st.ReadManifest(ctx, topic)
	if err != nil {
		return nil, err
	}
	if m.Active == 0 {
		return nil, fmt.Errorf("topic %s: %w", topic, ErrFlatLayout)
	}
	lease, err := st.AcquireLease(ctx, topic, opts.Holder, opts.LeaseTTL)
	if err != nil {
		if errors.Is(err, store.ErrLeaseHeld) {
			return nil, fmt.Errorf("topic %s is being backed up (%w): stop its backup, delete, then start it again", topic, err)
		}
		return nil, err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	if _, ok := m.Get(v); !ok {
		// Perhaps an interrupted delete: clean up what it left, if anything.
		if segs, err := st.ListSegments(ctx, store.Loc{Topic: topic, Version: v}); err != nil || len(segs) == 0 {
			return nil, fmt.Errorf("topic %s has no snapshot v%d; available: %s: %w", topic, v, m.Versions(), store.ErrNotFound)
		}
	}
	if _, err := st.FenceManifest(ctx, lease); err != nil {
		return nil, err
	}
	n, b, err := st.DeleteVersion(ctx, lease, store.Loc{Topic: topic, Version: v})
	if err != nil {
		return nil, err
	}
	return &DeleteSnapshotResult{Topic: topic, Version: v, Objects: n, Bytes: b}, nil
}
