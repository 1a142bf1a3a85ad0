package restore

import (
	"errors"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/store"
)

func TestParseSpecConsumerGroups(t *testing.T) {
	s, err := ParseSpec([]byte(`config:
  topics: [{source: orders}]
  consumerGroups:
    include:
      - source: "billing-(.*)"
        target: "restored-$1"
      - source: audit
    allowRewind: true
`))
	if err != nil {
		t.Fatal(err)
	}
	g := s.Spec.Config.ConsumerGroups
	if g == nil || len(g.Include) != 2 || !g.AllowRewind || g.Include[0].Target != "restored-$1" {
		t.Fatalf("parsed %+v", g)
	}
	for _, tc := range []struct{ spec, msg string }{
		{"config:\n  consumerGroups:\n    inclde: [{source: x}]\n", `unknown field "inclde"`},
		{"config:\n  consumerGroups:\n    include: [{source: x, taget: y}]\n", `unknown field "taget"`},
		{"config:\n  consumerGroups:\n    include: [{source: \"(\"}]\n", "is not a regular expression"},
		{"config:\n  consumerGroups:\n    include: [{target: y}]\n", "no source pattern"},
	} {
		_, err := ParseSpec([]byte(tc.spec))
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line with %q", tc.spec, err, tc.msg)
		}
	}
}

func TestGroupMatcher(t *testing.T) {
	g := ConsumerGroups{Include: []GroupMapping{{Source: "billing-(.*)", Target: "restored-$1"}, {Source: "audit"}, {Source: "etl", Target: "etl2"}}}
	m, err := g.compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		group, want string
		ok          bool
	}{
		{"billing-eu", "restored-eu", true},
		{"audit", "audit", true},
		{"audit-2", "", false}, // whole-name match
		{"etl", "etl2", true},
		{"other", "", false},
	} {
		got, ok := m.target(tc.group)
		if got != tc.want || ok != tc.ok {
			t.Errorf("target(%q) = %q %t, want %q %t", tc.group, got, ok, tc.want, tc.ok)
		}
	}
	// Two source groups renamed into one are refused.
	merge := ConsumerGroups{Include: []GroupMapping{{Source: "a|b", Target: "one"}}}
	mm, _ := merge.compile()
	c := &store.GroupCapture{Offsets: []store.GroupOffset{{Group: "a", Offset: 1}, {Group: "b", Offset: 1}}}
	if _, err := planGroups(c, "t", map[int32]*PartitionMap{0: {End: 5}}, mm); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("two groups into one: %v, want ErrInvalidSpec", err)
	}
}
