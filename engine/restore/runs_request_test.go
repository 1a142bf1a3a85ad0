package restore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/store"
)

// TestRunsReasons checks that a request refused before it runs keeps its
// reason as given: a spec that does not parse shows its parse error once,
// an invalid copy its reason, without a prefix turned back into text.
func TestRunsReasons(t *testing.T) {
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs := NewRuns(context.Background(), st, nil, RunsOptions{})
	defer rs.Close()

	err = rs.StartSpec("bad", []byte("kind: Restore\nspec: [\n"))
	if !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("StartSpec of a broken spec: %v", err)
	}
	s, err := rs.Status("bad")
	if err != nil || s.Phase != Invalid || strings.Count(s.Reason, ErrInvalidSpec.Error()) != 1 {
		t.Errorf("status of a broken spec: %+v %v", s, err)
	}
	// A spec copied into the mount (or PUT) with a misspelled field: its
	// status names the field, the line and the nearest valid field.
	if err := rs.StartSpec("typo", []byte("config:\n  topics: [{source: t}]\n  createTopic: true\n")); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("StartSpec of a misspelled spec: %v", err)
	}
	if s, _ := rs.Status("typo"); s.Phase != Invalid || !strings.Contains(s.Reason, `line 3: unknown field "createTopic" (did you mean createTopics?)`) {
		t.Errorf("status of a misspelled spec: %+v", s)
	}
	const why = "restore/x is a single file copied from topics/t/manifest"
	if err := rs.Invalid("x", why); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("Invalid: %v", err)
	}
	if s, _ := rs.Status("x"); s.Phase != Invalid || s.Reason != ErrInvalidSpec.Error()+": "+why {
		t.Errorf("status of an invalid copy: %+v", s)
	}
	if err := rs.Invalid("x", why); !errors.Is(err, ErrNameInUse) {
		t.Errorf("a second Invalid of the name: %v", err)
	}
	if got := SnapshotAt(12); got != "v12" {
		t.Errorf("SnapshotAt(12) = %q", got)
	}
}
