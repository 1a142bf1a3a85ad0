package restore

import (
	"strings"
	"testing"
)

func TestParseRestoreSpec(t *testing.T) {
	ok := map[string]func(*Spec) bool{
		"apiVersion: kannika.io/v1alpha\nkind: Restore\nmetadata:\n  name: restore-example\nspec:\n  source: \"my-volume-storage\"\n  sink: \"my-kafka-cluster\"\n  enabled: false\n  config: {}\n": func(s *Spec) bool {
			return s.Metadata.Name == "restore-example" && s.Spec.Enabled != nil && !*s.Spec.Enabled
		},
		"spec:\n  config:\n    parallelism: 3\n    maxProducers: 2\n    legacyOffsetHeader: original-offset\n    restoreFromDateTime: 2021-01-01T00:00:00Z\n    restoreUntilDateTime: \"2021-02-01T00:00:00Z\"\n    topics:\n      - source: a\n        target: b\n        disablePreflightChecks: true\n": func(s *Spec) bool {
			c := s.Spec.Config
			return c.Parallelism == 3 && c.MaxProducers == 2 && c.RestoreFromDateTime == "2021-01-01T00:00:00Z" && c.Topics[0].DisablePreflightChecks
		},
		"config:\n  topics:\n    - source: my-topic\n      target: my-topic\n      snapshot:\n        version: 1\n": func(s *Spec) bool {
			return s.Spec.Config.Topics[0].snapshotSel() == "v1"
		},
		"config:\n  topics:\n    - source: t\n      snapshot: {version: \"v2\"}\n    - source: u\n      snapshot: {version: latest}\n": func(s *Spec) bool {
			return s.Spec.Config.Topics[0].snapshotSel() == "v2" && s.Spec.Config.Topics[1].snapshotSel() == "latest" && s.Spec.Config.Topics[0].TargetName() == "t"
		},
		"config:\n  filters:\n    time:\n      retention: ApplyTargetTopicRetention\n  topics: [{source: t}]\n": func(s *Spec) bool {
			return s.Spec.Config.Filters.Time.Retention == ApplyTargetTopicRetention
		},
	}
	for doc, check := range ok {
		s, err := ParseSpec([]byte(doc))
		if err != nil || !check(s) {
			t.Errorf("%q: %v %+v", doc, err, s)
		}
	}
	bad := map[string]string{
		"config:\n  topics:\n    - source: t\n      snapshot: {version: vv}\n": "snapshot version",
		"config:\n  topicz: []\n":                                                              "topicz",
		"kind: Backup\nspec: {config: {}}\n":                                                   "kind",
		"config:\n  restoreUntilDateTime: soon\n":                                              "RFC 3339",
		"config:\n  topics: [{source: a, target: x}, {source: b, target: x}]\n":                "both restore into x",
		"config:\n  topics: [{source: a, partitions: [{number: 1}, {number: 1}]}]\n":           "listed twice",
		"config:\n  topics: [{source: a, partitions: [{number: 0, restoreUntilOffset: 0}]}]\n": "must be greater",
		"config:\n  topics: [{source: 'a b'}]\n":                                               "invalid topic name",
		"config:\n  filters: {time: {retention: apply}}\n":                                     "filters.time.retention",
		"config:\n  filters: {time: {retention: KeepEverything}}\n":                            "filters.time.retention",
	}
	for doc, msg := range bad {
		_, err := ParseSpec([]byte(doc))
		errContains(t, err, ErrInvalidSpec, msg)
	}
}

// TestParseSpecUnknownField checks that a misspelled field, in a spec
// copied into the mount or given to restore -f, is named with its line and
// the nearest valid field, not yaml's Go type name.
func TestParseSpecUnknownField(t *testing.T) {
	doc := []byte("kind: Restore\nspec:\n  config:\n    createTopic: true\n    topics: [{source: a}]\n")
	_, err := ParseSpec(doc)
	errContains(t, err, ErrInvalidSpec, `line 4: unknown field "createTopic" (did you mean createTopics?)`)
	if strings.Contains(err.Error(), "restore.") {
		t.Errorf("error names a Go type: %v", err)
	}
	_, err = ParseSpecFile("my.yaml", []byte("config:\n  topics: [{source: a, targt: b}]\n"))
	errContains(t, err, ErrInvalidSpec, `my.yaml:2: unknown field "targt" (did you mean target?)`)
}
