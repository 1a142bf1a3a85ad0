package restore

import (
	"regexp"
	"strings"
)

// ConsumerGroups selects the consumer groups whose committed offsets a
// restore translates and commits on the target once every record is
// restored (docs/restore.md, "Consumer groups").
type ConsumerGroups struct {
	// Include lists the groups by pattern; a group takes the first
	// mapping whose Source matches it whole.
	Include []GroupMapping `yaml:"include" json:"include"`
	// AllowRewind commits translated offsets behind those the group has
	// already committed on the target; otherwise those are kept.
	AllowRewind bool `yaml:"allowRewind,omitempty" json:"allowRewind,omitempty"`
	// SkipActive leaves groups that have members on the target alone
	// (reported in the status) instead of failing the restore.
	SkipActive bool `yaml:"skipActive,omitempty" json:"skipActive,omitempty"`
}

// GroupMapping commits the offsets of the groups matching Source (a
// regular expression matched against the whole name) under Target (empty:
// the same name; $1 and ${name} expand the pattern's groups).
type GroupMapping struct {
	Source string `yaml:"source" json:"source"`
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
}

// ParseGroupMapping parses the --groups syntax, REGEX or REGEX:TARGET.
func ParseGroupMapping(s string) GroupMapping {
	src, dst, _ := strings.Cut(s, ":")
	return GroupMapping{Source: src, Target: dst}
}

// copyGroups is the choice of a restore by copy (Runs.Copy), which has no
// spec: every captured group, skipping those active on the target.
var copyGroups = ConsumerGroups{Include: []GroupMapping{{Source: ".*"}}, SkipActive: true}

// groupMatcher is a compiled ConsumerGroups selection.
type groupMatcher struct {
	res     []*regexp.Regexp
	targets []string
}

func (g *ConsumerGroups) compile() (*groupMatcher, error) {
	m := &groupMatcher{}
	for _, gm := range g.Include {
		if gm.Source == "" {
			return nil, specError("consumerGroups: a mapping has no source pattern (use .* for every group)")
		}
		re, err := regexp.Compile("^(?:" + gm.Source + ")$")
		if err != nil {
			return nil, specError("consumerGroups: source %q is not a regular expression: %v", gm.Source, err)
		}
		m.res = append(m.res, re)
		m.targets = append(m.targets, gm.Target)
	}
	return m, nil
}

// target returns the name group is committed under, or false when no
// mapping selects it.
func (m *groupMatcher) target(group string) (string, bool) {
	for i, re := range m.res {
		idx := re.FindStringSubmatchIndex(group)
		if idx == nil {
			continue
		}
		if m.targets[i] == "" {
			return group, true
		}
		t := string(re.ExpandString(nil, m.targets[i], group, idx))
		return t, t != ""
	}
	return "", false
}
