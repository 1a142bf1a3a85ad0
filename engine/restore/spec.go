package restore

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kbackup/kbackup/store"
)

// Spec is a restore request in the form of Kannika Armory's Restore
// resource (apiVersion kannika.io/v1alpha, `kind: Restore`; docs/restore.md). Only Spec.Config drives the restore; the other
// fields are kept so a resource file can be used as is.
type Spec struct {
	APIVersion string   `yaml:"apiVersion,omitempty" json:"apiVersion,omitempty"`
	Kind       string   `yaml:"kind,omitempty" json:"kind,omitempty"`
	Metadata   Metadata `yaml:"metadata,omitempty" json:"metadata,omitempty"`
	Spec       SpecBody `yaml:"spec" json:"spec"`
}

// Metadata names the restore.
type Metadata struct {
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
}

// SpecBody is the resource's spec: where from, where to, what.
type SpecBody struct {
	Source string `yaml:"source,omitempty" json:"source,omitempty"` // storage name (informational)
	Sink   string `yaml:"sink,omitempty" json:"sink,omitempty"`     // cluster name (informational)
	// Enabled false marks a draft; nil (absent) runs.
	Enabled *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	Config  Config `yaml:"config" json:"config"`
}

// Config selects the topics and records to restore.
type Config struct {
	Topics []TopicMapping `yaml:"topics,omitempty" json:"topics,omitempty"`
	// RestoreFromDateTime (RFC 3339, inclusive) and RestoreUntilDateTime
	// (exclusive) bound record timestamps.
	RestoreFromDateTime  string `yaml:"restoreFromDateTime,omitempty" json:"restoreFromDateTime,omitempty"`
	RestoreUntilDateTime string `yaml:"restoreUntilDateTime,omitempty" json:"restoreUntilDateTime,omitempty"`
	// LegacyOffsetHeader, if set, adds each record's original offset as a
	// decimal header of this name.
	LegacyOffsetHeader string `yaml:"legacyOffsetHeader,omitempty" json:"legacyOffsetHeader,omitempty"`
	// Parallelism is how many topics are restored at once (default 1).
	Parallelism int `yaml:"parallelism,omitempty" json:"parallelism,omitempty"`
	// MaxProducers caps the producers shared by the topics (default 1).
	MaxProducers int `yaml:"maxProducers,omitempty" json:"maxProducers,omitempty"`
	// CreateTopics creates missing targets with the snapshot's partition
	// count and topic configs (kbackup extension).
	CreateTopics bool `yaml:"createTopics,omitempty" json:"createTopics,omitempty"`
	// AllowNonEmpty lets a restore append to a target holding records that
	// this restore did not write (kbackup extension).
	AllowNonEmpty bool `yaml:"allowNonEmpty,omitempty" json:"allowNonEmpty,omitempty"`
	// AllowEmpty lets a restore run that selects no record (kbackup
	// extension); without it such a restore fails its preflight.
	AllowEmpty bool `yaml:"allowEmpty,omitempty" json:"allowEmpty,omitempty"`
	// Filters select records by rules beyond the window and ranges.
	Filters Filters `yaml:"filters,omitempty" json:"filters,omitempty"`
	// ConsumerGroups, if set, commits the translated offsets of these
	// groups once the records are restored (kbackup extension).
	ConsumerGroups *ConsumerGroups `yaml:"consumerGroups,omitempty" json:"consumerGroups,omitempty"`
}

// Filters are the spec's record filters (Kannika's
// spec.config.filters).
type Filters struct {
	Time TimeFilters `yaml:"time,omitempty" json:"time,omitempty"`
}

// TimeFilters filter by record timestamp.
type TimeFilters struct {
	// Retention says what to do with planned records that the target's
	// retention would delete soon after they are written (timestamps
	// older than the target's retention.ms). Empty fails the preflight
	// check when there are any.
	Retention RetentionPolicy `yaml:"retention,omitempty" json:"retention,omitempty"`
}

// RetentionPolicy is a choice for records the target's retention would
// delete (docs/restore.md, "Retention and timestamps").
type RetentionPolicy string

// Retention policies; the empty policy makes such records a preflight
// failure.
const (
	// ApplyTargetTopicRetention skips the records older than the target's
	// retention.ms (Kannika's filter of the same name).
	ApplyTargetTopicRetention RetentionPolicy = "ApplyTargetTopicRetention"
	// ExtendTargetTopicRetention raises the target's retention.ms (and
	// lifts a retention.bytes the plan exceeds) so that every restored
	// record is kept as long as the target keeps a record written now.
	ExtendTargetTopicRetention RetentionPolicy = "ExtendTargetTopicRetention"
	// IgnoreTargetTopicRetention restores every record and leaves the
	// target's retention as it is (created targets keep the source's):
	// the broker deletes the old records soon after.
	IgnoreTargetTopicRetention RetentionPolicy = "IgnoreTargetTopicRetention"
)

// retentionPolicies maps the short names of --retention to policies.
var retentionPolicies = map[string]RetentionPolicy{
	"apply": ApplyTargetTopicRetention, "extend": ExtendTargetTopicRetention, "ignore": IgnoreTargetTopicRetention,
}

// ParseRetentionPolicy accepts a policy's name or its short form (apply,
// extend, ignore).
func ParseRetentionPolicy(s string) (RetentionPolicy, error) {
	if p, ok := retentionPolicies[strings.ToLower(strings.TrimSpace(s))]; ok {
		return p, nil
	}
	for _, p := range retentionPolicies {
		if string(p) == s {
			return p, nil
		}
	}
	return "", specError("retention policy %q: use apply (%s), extend (%s) or ignore (%s)", s,
		ApplyTargetTopicRetention, ExtendTargetTopicRetention, IgnoreTargetTopicRetention)
}

// TopicMapping restores Source (a topic in storage) into Target.
type TopicMapping struct {
	Source string `yaml:"source" json:"source"`
	// Target defaults to Source.
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
	// Partitions, when non-empty, restricts the restore to these partitions.
	Partitions             []PartitionRange `yaml:"partitions,omitempty" json:"partitions,omitempty"`
	DisablePreflightChecks bool             `yaml:"disablePreflightChecks,omitempty" json:"disablePreflightChecks,omitempty"`
	Snapshot               *SnapshotRef     `yaml:"snapshot,omitempty" json:"snapshot,omitempty"`
}

// PartitionRange selects offsets [RestoreFromOffset, RestoreUntilOffset) of
// partition Number; a nil bound is open.
type PartitionRange struct {
	Number             int32  `yaml:"number" json:"number"`
	RestoreFromOffset  *int64 `yaml:"restoreFromOffset,omitempty" json:"restoreFromOffset,omitempty"`
	RestoreUntilOffset *int64 `yaml:"restoreUntilOffset,omitempty" json:"restoreUntilOffset,omitempty"`
}

// SnapshotRef selects a snapshot version: 1, "v1" or "latest" (default).
type SnapshotRef struct {
	Version SnapshotVersion `yaml:"version" json:"version"`
}

// SnapshotVersion is "latest", "" or "vN" once parsed; YAML numbers are
// accepted and normalised to "vN".
type SnapshotVersion string

// SnapshotAt selects snapshot version v.
func SnapshotAt(v int) SnapshotVersion { return SnapshotVersion("v" + strconv.Itoa(v)) }

// UnmarshalYAML accepts a number or a string.
func (v *SnapshotVersion) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: snapshot version must be a number, \"vN\" or \"latest\"", n.Line)
	}
	s, err := NormalizeSnapshot(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*v = SnapshotVersion(s)
	return nil
}

// NormalizeSnapshot turns "1", "v1", "latest" or "" into "v1", "latest" or
// "", a chain "1..3" or "v1..v3" into "v1..v3", and keeps "all" (every
// version, as a chain).
func NormalizeSnapshot(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "latest" || s == allVersions {
		return s, nil
	}
	if strings.Contains(s, "..") {
		from, to, ok := parseChain(s)
		if !ok {
			return "", fmt.Errorf("snapshot versions %q: a chain is vA..vB with 1 ≤ A < B, at most %d versions (v1..v3)", s, maxChain)
		}
		return fmt.Sprintf("v%d..v%d", from, to), nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "v"))
	if err != nil || n < 0 {
		return "", fmt.Errorf("snapshot version %q: use a number (1), \"v1\" or \"latest\"", s)
	}
	return "v" + strconv.Itoa(n), nil
}

// MaxSpecBytes bounds the size of a restore spec ParseSpec reads.
const MaxSpecBytes = 1 << 20

// ParseSpec reads a YAML restore spec: a full `kind: Restore`
// resource or a bare document holding only `config:`. Unknown fields and
// invalid values are errors wrapping ErrInvalidSpec; a draft without
// topics parses (Validate, which Run calls, rejects it). Specs larger
// than MaxSpecBytes are refused unread.
func ParseSpec(data []byte) (*Spec, error) { return ParseSpecFile("", data) }

// ParseSpecFile is ParseSpec of the spec read from file, and its errors
// name file: a misspelled field as "FILE:LINE: unknown field "X" (did you
// mean Y?)" (with file "", "line LINE: …"), any other error prefixed with
// "FILE: ".
func ParseSpecFile(file string, data []byte) (*Spec, error) {
	spec, named, err := parseSpec(file, data)
	if err != nil && !named && file != "" {
		err = fmt.Errorf("%s: %w", file, err)
	}
	return spec, err
}

// parseSpec is ParseSpecFile; named tells that the error names file.
func parseSpec(file string, data []byte) (spec *Spec, named bool, err error) {
	if len(data) > MaxSpecBytes {
		return nil, false, specError("the spec is %d bytes, more than %d: a restore spec is a short YAML document", len(data), MaxSpecBytes)
	}
	var probe map[string]yaml.Node
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return nil, false, specError("%s", oneLine(err))
	}
	spec = &Spec{}
	var target any = spec
	if _, bare := probe["config"]; bare {
		if _, full := probe["spec"]; full {
			return nil, false, specError("spec has both a top-level config and spec.config: keep one")
		}
		target = &spec.Spec
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(target); err != nil {
		explained := ExplainUnknownFields(file, err, target)
		return nil, explained != err, specError("%s", oneLine(explained))
	}
	if err := spec.validate(false); err != nil {
		return nil, false, err
	}
	return spec, false, nil
}

// Validate checks the spec; the error (wrapping ErrInvalidSpec) names the
// first problem in one line.
func (s *Spec) Validate() error { return s.validate(true) }

func (s *Spec) validate(needTopics bool) error {
	if s.Kind != "" && s.Kind != "Restore" {
		return specError("kind is %q, expected Restore", s.Kind)
	}
	c := &s.Spec.Config
	if needTopics && len(c.Topics) == 0 {
		return fmt.Errorf("%w: %w: add config.topics with a source for each topic to restore", ErrInvalidSpec, ErrNoTopics)
	}
	if c.Parallelism < 0 || c.MaxProducers < 0 {
		return specError("parallelism and maxProducers must be positive")
	}
	if _, _, err := c.window(); err != nil {
		return err
	}
	if p := c.Filters.Time.Retention; p != "" {
		if _, err := ParseRetentionPolicy(string(p)); err != nil || !strings.HasSuffix(string(p), "TargetTopicRetention") {
			return specError("filters.time.retention %q: use %s, %s or %s", p,
				ApplyTargetTopicRetention, ExtendTargetTopicRetention, IgnoreTargetTopicRetention)
		}
	}
	if c.ConsumerGroups != nil {
		if _, err := c.ConsumerGroups.compile(); err != nil {
			return err
		}
	}
	targets := map[string]string{}
	for i := range c.Topics {
		t := &c.Topics[i]
		if err := t.validate(); err != nil {
			return err
		}
		if prev, dup := targets[t.TargetName()]; dup {
			return specError("topics %s and %s both restore into %s: give each a different target", prev, t.Source, t.TargetName())
		}
		targets[t.TargetName()] = t.Source
	}
	return nil
}

func (t *TopicMapping) validate() error {
	if err := store.ValidTopic(t.Source); err != nil {
		return specError("source: %v", err)
	}
	if err := store.ValidTopic(t.TargetName()); err != nil {
		return specError("target of %s: %v", t.Source, err)
	}
	if t.isChain() {
		for _, p := range t.Partitions {
			if p.RestoreFromOffset != nil || p.RestoreUntilOffset != nil {
				return specError("topic %s: offset ranges cannot be combined with a chain of versions (%s): a recreated topic's offsets start again in each version; use a time window", t.Source, t.snapshotSel())
			}
		}
	}
	seen := map[int32]bool{}
	for _, p := range t.Partitions {
		if p.Number < 0 {
			return specError("topic %s: partition number %d is negative", t.Source, p.Number)
		}
		if seen[p.Number] {
			return specError("topic %s: partition %d is listed twice", t.Source, p.Number)
		}
		seen[p.Number] = true
		from, until := p.bounds()
		if from < 0 || (p.RestoreUntilOffset != nil && until < 0) {
			return specError("topic %s partition %d: offsets must not be negative", t.Source, p.Number)
		}
		if p.RestoreUntilOffset != nil && until <= from {
			return specError("topic %s partition %d: restoreUntilOffset %d must be greater than restoreFromOffset %d", t.Source, p.Number, until, from)
		}
	}
	return nil
}

// TargetName returns Target, or Source when Target is empty.
func (t *TopicMapping) TargetName() string {
	if t.Target == "" {
		return t.Source
	}
	return t.Target
}

// snapshotSel returns the snapshot selector for store.ResolveSnapshot.
func (t *TopicMapping) snapshotSel() string {
	if t.Snapshot == nil {
		return ""
	}
	return string(t.Snapshot.Version)
}

// bounds returns [from, until); until is -1 when open.
func (p PartitionRange) bounds() (int64, int64) {
	from, until := int64(0), int64(-1)
	if p.RestoreFromOffset != nil {
		from = *p.RestoreFromOffset
	}
	if p.RestoreUntilOffset != nil {
		until = *p.RestoreUntilOffset
	}
	return from, until
}

// window parses the time window; zero times are open ends.
func (c *Config) window() (from, until time.Time, err error) {
	if from, err = parseTime("restoreFromDateTime", c.RestoreFromDateTime); err != nil {
		return
	}
	if until, err = parseTime("restoreUntilDateTime", c.RestoreUntilDateTime); err != nil {
		return
	}
	if !from.IsZero() && !until.IsZero() && !until.After(from) {
		err = specError("restoreUntilDateTime %s must be after restoreFromDateTime %s", c.RestoreUntilDateTime, c.RestoreFromDateTime)
	}
	return
}

func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, specError("%s %q is not an RFC 3339 time (e.g. 2021-01-01T00:00:00Z)", name, s)
	}
	return t, nil
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
