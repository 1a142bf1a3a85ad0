package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FormatVersion is the storage format version this build writes. Readers
// accept it and every older version.
const FormatVersion = 1

// Manifest lists a topic's snapshot versions (versioned layout only).
type Manifest struct {
	Format    int        `yaml:"format"`
	Topic     string     `yaml:"topic"`
	Active    int        `yaml:"active"`
	Snapshots []Snapshot `yaml:"snapshots"`
}

// Snapshot is one version of a topic's backup.
type Snapshot struct {
	Version    int               `yaml:"version"`
	TopicID    string            `yaml:"topic_id"`
	Created    time.Time         `yaml:"created"`
	Archived   *time.Time        `yaml:"archived,omitempty"`
	Reason     string            `yaml:"reason,omitempty"`
	Partitions int32             `yaml:"partitions"`
	Configs    map[string]string `yaml:"configs,omitempty"`
	// StartOffsets are the fetch positions a version cut from a live topic
	// (snapshot create, --snapshot-every) starts at, per partition: the
	// previous version's next offsets. Empty for first backups and
	// recreated topics, which start at the beginning of the log.
	StartOffsets map[int32]int64 `yaml:"start_offsets,omitempty"`
}

// Get returns snapshot version v.
func (m *Manifest) Get(v int) (*Snapshot, bool) {
	for i := range m.Snapshots {
		if m.Snapshots[i].Version == v {
			return &m.Snapshots[i], true
		}
	}
	return nil, false
}

// ActiveSnapshot returns the active snapshot.
func (m *Manifest) ActiveSnapshot() *Snapshot {
	s, _ := m.Get(m.Active)
	return s
}

// Versions lists the versions as "v1, v2".
func (m *Manifest) Versions() string {
	var vs []string
	for _, s := range m.Snapshots {
		vs = append(vs, "v"+strconv.Itoa(s.Version))
	}
	return strings.Join(vs, ", ")
}

// Layout is how a topic's backup is laid out in storage.
type Layout int

// Layouts.
const (
	LayoutNone      Layout = iota // no backup yet
	LayoutSnapshots               // manifest + snapshots/vN
	LayoutFlat                    // index + segments directly under the topic
)

// TopicLayout tells which layout topic uses in storage.
func (s *Store) TopicLayout(ctx context.Context, topic string) (Layout, error) {
	ok, err := s.exists(ctx, manifestKey(topic))
	if err != nil {
		return 0, err
	}
	if ok {
		return LayoutSnapshots, nil
	}
	ok, err = s.exists(ctx, flatIndexKey(topic))
	if err != nil {
		return 0, err
	}
	if ok {
		return LayoutFlat, nil
	}
	return LayoutNone, nil
}

// ReadManifest reads topic's manifest. A flat-layout topic yields a
// synthetic manifest with the single snapshot v0.
func (s *Store) ReadManifest(ctx context.Context, topic string) (*Manifest, error) {
	b, err := s.read(ctx, manifestKey(topic))
	if IsNotFound(err) {
		if ok, ferr := s.exists(ctx, flatIndexKey(topic)); ferr == nil && ok {
			return &Manifest{Format: FormatVersion, Topic: topic, Active: 0, Snapshots: []Snapshot{{Version: 0}}}, nil
		}
		return nil, fmt.Errorf("topic %q has no backup in storage: %w", topic, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest of %s: %v", ErrCorrupt, topic, err)
	}
	if m.Format > FormatVersion {
		return nil, fmt.Errorf("manifest of %s has format %d, this kbackup reads up to %d: %w", topic, m.Format, FormatVersion, ErrFormat)
	}
	return &m, nil
}

// RawManifest returns the manifest's stored bytes.
func (s *Store) RawManifest(ctx context.Context, topic string) ([]byte, error) {
	return s.read(ctx, manifestKey(topic))
}

// WriteManifest replaces topic's manifest. Only the lease holder may call it.
func (s *Store) WriteManifest(ctx context.Context, m *Manifest) error {
	m.Format = FormatVersion
	b, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	return s.write(ctx, manifestKey(m.Topic), b)
}

// ResolveSnapshot turns "", "latest", "3" or "v3" into a snapshot version of
// topic, failing with the list of versions when it does not exist.
func (s *Store) ResolveSnapshot(ctx context.Context, topic, sel string) (int, *Manifest, error) {
	m, err := s.ReadManifest(ctx, topic)
	if err != nil {
		return 0, nil, err
	}
	if sel == "" || sel == "latest" {
		return m.Active, m, nil
	}
	v, err := strconv.Atoi(strings.TrimPrefix(sel, "v"))
	if err != nil || v < 0 {
		return 0, nil, fmt.Errorf("snapshot %q is not a version: use a number, vN or latest", sel)
	}
	if _, ok := m.Get(v); !ok {
		return 0, nil, fmt.Errorf("topic %s has no snapshot v%d; available: %s: %w", topic, v, m.Versions(), ErrNotFound)
	}
	return v, m, nil
}
