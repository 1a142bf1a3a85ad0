package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FormatVersion is the storage format version this build writes. Readers
// accept it and every older version. Format 2 keeps the manifest, the index
// head and the lease in registers of immutable entries (register.go).
const FormatVersion = 2

// Limits on manifests read from storage (docs/storage-format.md §2).
const (
	maxManifestBytes = 4 << 20
	maxPartitions    = 1 << 20 // per snapshot; Kafka allows far fewer
	maxSnapshots     = 1 << 16
)

// Manifest lists a topic's snapshot versions (versioned layout only).
type Manifest struct {
	Format    int        `yaml:"format"`
	Topic     string     `yaml:"topic"`
	Active    int        `yaml:"active"`
	Snapshots []Snapshot `yaml:"snapshots"`
	// Retention is the retention policy in force, as a Go duration ("" or
	// "0s": keep forever). The backup daemon records the policy it applies.
	Retention string `yaml:"retention,omitempty"`
	// Seq is the manifest's entry number in its register and Writer the
	// token of the lease its writer held (format 2).
	Seq    int64  `yaml:"seq,omitempty"`
	Writer string `yaml:"writer,omitempty"`
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

// RetentionPolicy returns the retention in force (0: keep forever).
func (m *Manifest) RetentionPolicy() time.Duration {
	d, err := time.ParseDuration(m.Retention)
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// clone returns a deep copy of m.
func (m *Manifest) clone() *Manifest {
	c := *m
	c.Snapshots = make([]Snapshot, len(m.Snapshots))
	for i, s := range m.Snapshots {
		c.Snapshots[i] = s
		if s.Archived != nil {
			a := *s.Archived
			c.Snapshots[i].Archived = &a
		}
		if s.Configs != nil {
			c.Snapshots[i].Configs = make(map[string]string, len(s.Configs))
			for k, v := range s.Configs {
				c.Snapshots[i].Configs[k] = v
			}
		}
		if s.StartOffsets != nil {
			c.Snapshots[i].StartOffsets = make(map[int32]int64, len(s.StartOffsets))
			for k, v := range s.StartOffsets {
				c.Snapshots[i].StartOffsets[k] = v
			}
		}
	}
	return &c
}

// check validates what readers act on.
func (m *Manifest) check(topic string) error {
	if m.Topic != topic {
		return fmt.Errorf("it belongs to topic %q", m.Topic)
	}
	if m.Active < 0 {
		return fmt.Errorf("negative active version %d", m.Active)
	}
	seen := map[int]bool{}
	for _, s := range m.Snapshots {
		if s.Version < 1 || seen[s.Version] {
			return fmt.Errorf("snapshot version %d is not positive or listed twice", s.Version)
		}
		seen[s.Version] = true
		if s.Partitions < 0 || s.Partitions > maxPartitions {
			return fmt.Errorf("snapshot v%d has %d partitions, outside 0..%d", s.Version, s.Partitions, maxPartitions)
		}
		for p, off := range s.StartOffsets {
			if p < 0 || p >= maxPartitions || off < 0 {
				return fmt.Errorf("snapshot v%d: impossible start offset %d of partition %d", s.Version, off, p)
			}
		}
	}
	return nil
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
	ok, err := s.hasManifest(ctx, topic)
	if err != nil || ok {
		return LayoutSnapshots, err
	}
	ok, err = s.hasIndex(ctx, Loc{Topic: topic})
	if err != nil {
		return 0, err
	}
	if ok {
		return LayoutFlat, nil
	}
	return LayoutNone, nil
}

// hasManifest reports whether topic has a manifest (either format).
func (s *Store) hasManifest(ctx context.Context, topic string) (bool, error) {
	ok, err := s.registerExists(ctx, manifestsKey(topic))
	if err != nil || ok {
		return ok, err
	}
	return s.exists(ctx, manifestKey(topic))
}

// hasIndex reports whether loc has an index (either format).
func (s *Store) hasIndex(ctx context.Context, loc Loc) (bool, error) {
	ok, err := s.registerExists(ctx, loc.headsKey())
	if err != nil || ok {
		return ok, err
	}
	return s.exists(ctx, loc.indexKey())
}

// ReadManifest reads topic's manifest. A flat-layout topic yields a
// synthetic manifest with the single snapshot v0.
func (s *Store) ReadManifest(ctx context.Context, topic string) (*Manifest, error) {
	m, err := s.readManifest(ctx, topic)
	if IsNotFound(err) {
		if ok, ferr := s.hasIndex(ctx, Loc{Topic: topic}); ferr == nil && ok {
			return &Manifest{Format: FormatVersion, Topic: topic, Active: 0, Snapshots: []Snapshot{{Version: 0}}}, nil
		}
		return nil, fmt.Errorf("topic %q has no backup in storage: %w", topic, ErrNotFound)
	}
	return m, err
}

// readManifest reads the newest manifest entry, or format 1's manifest.
func (s *Store) readManifest(ctx context.Context, topic string) (*Manifest, error) {
	key := manifestKey(topic)
	e, err := s.readRegister(ctx, manifestsKey(topic), maxManifestBytes)
	var b []byte
	switch {
	case err == nil:
		b, key = e.data, registerKey(manifestsKey(topic), e.seq)
	case IsNotFound(err):
		if b, err = s.readLimited(ctx, key, maxManifestBytes); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	var seq int64
	if e != nil {
		seq = e.seq
	}
	return parseManifest(topic, key, seq, b)
}

// parseManifest decodes and checks the manifest object key of topic: entry
// seq of its register, or format 1's single object when seq is 0.
func parseManifest(topic, key string, seq int64, b []byte) (*Manifest, error) {
	var m Manifest
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %v", ErrCorrupt, key, err)
	}
	if m.Format > FormatVersion {
		return nil, fmt.Errorf("manifest %s has format %d, this kbackup reads up to %d: %w", key, m.Format, FormatVersion, ErrFormat)
	}
	if seq == 0 && m.Format >= 2 {
		return nil, fmt.Errorf("%w: %s says the manifest moved to %s, which holds no entry", ErrCorrupt, key, manifestsKey(topic))
	}
	if seq != 0 && m.Seq != seq {
		return nil, fmt.Errorf("%w: manifest %s says it is entry %d", ErrCorrupt, key, m.Seq)
	}
	if err := m.check(topic); err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %v", ErrCorrupt, key, err)
	}
	if len(m.Snapshots) > maxSnapshots {
		return nil, fmt.Errorf("%w: manifest %s lists %d snapshots, more than %d", ErrCorrupt, key, len(m.Snapshots), maxSnapshots)
	}
	return &m, nil
}

// RawManifest returns the manifest's stored bytes.
func (s *Store) RawManifest(ctx context.Context, topic string) ([]byte, error) {
	e, err := s.readRegister(ctx, manifestsKey(topic), maxManifestBytes)
	if IsNotFound(err) {
		return s.readLimited(ctx, manifestKey(topic), maxManifestBytes)
	}
	if err != nil {
		return nil, err
	}
	return e.data, nil
}

// FenceManifest takes topic's manifest over for the holder of lease l: it
// writes the current manifest again as the next entry, so that a process
// that held the topic before can no longer change it, and returns it (nil
// when the topic has none yet). UpdateManifest requires it. A format 1
// manifest is carried over into format 2 and its old object replaced by a
// stub that older kbackup versions refuse.
func (s *Store) FenceManifest(ctx context.Context, l *Lease) (*Manifest, error) {
	topic := l.Topic()
	for try := 0; try < fenceTries; try++ {
		if err := l.checkFor(topic); err != nil {
			return nil, fmt.Errorf("manifest of %s not written: %w", topic, err)
		}
		m, err := s.readManifest(ctx, topic)
		if IsNotFound(err) {
			l.setManifestSeq(0)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		legacy := m.Seq == 0
		err = s.commitManifest(ctx, l, m.Seq, m.clone())
		if errors.Is(err, errRaced) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if legacy {
			if err := s.writeDurable(ctx, manifestKey(topic), formatStub(manifestsKey(topic))); err != nil {
				return nil, err
			}
		}
		got, err := s.readManifest(ctx, topic)
		if err != nil {
			return nil, err
		}
		return got, nil
	}
	return nil, fmt.Errorf("%w: the manifest of %s keeps changing while this process takes it over: another process is writing it", ErrLeaseLost, topic)
}

// UpdateManifest changes topic's manifest under lease l, which must have
// fenced it (FenceManifest): fn edits a copy of the current manifest (an
// empty one for a new topic), which is written as the next entry. If the
// manifest changed since this holder's last write, another process holds
// the topic and the error wraps ErrLeaseLost.
func (s *Store) UpdateManifest(ctx context.Context, l *Lease, fn func(m *Manifest) error) (*Manifest, error) {
	topic := l.Topic()
	seq, fenced := l.manifestSeq()
	if !fenced {
		return nil, fmt.Errorf("manifest of %s not written: FenceManifest first: %w", topic, ErrLeaseLost)
	}
	if err := l.checkFor(topic); err != nil {
		return nil, fmt.Errorf("manifest of %s not written: %w", topic, err)
	}
	m := &Manifest{Topic: topic}
	if seq > 0 {
		cur, err := s.readManifest(ctx, topic)
		if err != nil {
			return nil, err
		}
		if cur.Seq != seq {
			l.end(fmt.Errorf("%w: the manifest of %s was changed by another process (entry %d)", ErrLeaseLost, topic, cur.Seq))
			return nil, l.Err()
		}
		m = cur.clone()
	}
	if err := fn(m); err != nil {
		return nil, err
	}
	err := s.commitManifest(ctx, l, seq, m)
	if errors.Is(err, errRaced) {
		l.end(fmt.Errorf("%w: %w", ErrLeaseLost, err))
		return nil, l.Err()
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// commitManifest writes m as the entry after seq.
func (s *Store) commitManifest(ctx context.Context, l *Lease, seq int64, m *Manifest) error {
	topic := l.Topic()
	if err := l.checkFor(topic); err != nil {
		return fmt.Errorf("manifest of %s not written: %w", topic, err)
	}
	m.Format, m.Topic, m.Seq, m.Writer = FormatVersion, topic, seq+1, l.Token()
	if err := m.check(topic); err != nil {
		return fmt.Errorf("manifest of %s not written: %w", topic, err)
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	dir := manifestsKey(topic)
	// Abandoned when the lease ends (see IndexWriter.commit).
	lctx, cancel := l.Context(ctx)
	err = s.createRegisterEntry(lctx, dir, m.Seq, b)
	cancel()
	if err != nil && !errors.Is(err, errExists) {
		if lerr := l.Err(); lerr != nil {
			return fmt.Errorf("manifest of %s not written: %w", topic, lerr)
		}
	}
	if errors.Is(err, errExists) {
		got, rerr := s.readRegisterEntry(ctx, dir, m.Seq, maxManifestBytes)
		var other Manifest
		if rerr != nil || yaml.Unmarshal(got, &other) != nil || other.Writer != l.Token() {
			return fmt.Errorf("%w: manifest %s", errRaced, registerKey(dir, m.Seq))
		}
		err = nil // a retry of our own create
	}
	if err != nil {
		return fmt.Errorf("write manifest of %s: %w", topic, err)
	}
	l.setManifestSeq(m.Seq)
	s.pruneRegister(ctx, l, dir, m.Seq-3)
	return nil
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

// WriteManifest replaces topic m.Topic's manifest with m under lease l,
// fencing it first if l has not.
func (s *Store) WriteManifest(ctx context.Context, l *Lease, m *Manifest) error {
	if _, fenced := l.manifestSeq(); !fenced {
		if _, err := s.FenceManifest(ctx, l); err != nil {
			return err
		}
	}
	if m.Topic != l.Topic() {
		return fmt.Errorf("manifest of %s not written under the lease of %s: %w", m.Topic, l.Topic(), ErrLeaseLost)
	}
	got, err := s.UpdateManifest(ctx, l, func(cur *Manifest) error {
		*cur = *m.clone()
		return nil
	})
	if err == nil {
		m.Format, m.Seq, m.Writer = got.Format, got.Seq, got.Writer
	}
	return err
}

// StartVersion archives the active snapshot (if any) at s.Created and
// appends s as the next version, which becomes the active one. It returns
// the new version number.
func (m *Manifest) StartVersion(s Snapshot) int {
	if a := m.ActiveSnapshot(); a != nil && m.Active > 0 {
		at := s.Created
		a.Archived = &at
	}
	s.Version = 1
	for _, o := range m.Snapshots {
		s.Version = max(s.Version, o.Version+1)
	}
	m.Snapshots = append(m.Snapshots, s)
	m.Active = s.Version
	return s.Version
}

// Cut archives the active snapshot at now and starts the next version,
// with the same topic ID, partitions and configs, at the fetch positions
// starts (per partition; see Index.NextOffsets): the rule of `snapshot
// create` and --snapshot-every. It returns the new version. A flat-layout
// manifest fails with ErrFlatLayout.
func (m *Manifest) Cut(now time.Time, reason string, starts map[int32]int64) (int, error) {
	act := m.ActiveSnapshot()
	if act == nil {
		return 0, fmt.Errorf("manifest of %s names active snapshot v%d, which it does not list", m.Topic, m.Active)
	}
	if act.Version == 0 {
		return 0, fmt.Errorf("topic %s: %w", m.Topic, ErrFlatLayout)
	}
	return m.StartVersion(Snapshot{
		TopicID: act.TopicID, Created: now.UTC().Truncate(time.Second), Reason: reason,
		Partitions: act.Partitions, Configs: act.Configs, StartOffsets: starts,
	}), nil
}
