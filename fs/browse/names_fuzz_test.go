package browse

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzRestoreName checks the names made in restore/: a name accepted by
// ValidRestoreName is short and free of control characters, the restore
// it shows as is too, and a status naming it with any reason reads back
// as exactly those fields (no forged line). Seeds:
// testdata/fuzz/FuzzRestoreName.
func FuzzRestoreName(f *testing.F) {
	f.Fuzz(func(t *testing.T, name, reason string, dir bool) {
		if ValidRestoreName(name) != nil {
			return
		}
		if len(name) > MaxRestoreName || strings.ContainsAny(name, "\n\r\x00\x1b") {
			t.Fatalf("accepted %q", name)
		}
		r := RestoreName(name, dir)
		if r == "" || len(r) > MaxRestoreName+len(".restore") || strings.ContainsAny(r, "\n\r") {
			t.Fatalf("name %q shows as restore %q", name, r)
		}
		st := RestoreStatus{Name: r, Phase: "Failed", Reason: reason}
		b := st.Render()
		var back statusDoc
		if err := yaml.Unmarshal(b, &back); err != nil {
			t.Fatalf("status %q does not parse: %v", b, err)
		}
		// YAML may fold the reason's whitespace (a block scalar drops a
		// leading newline); its words and every other field are exact.
		words := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		if back.Restore != st.Name || back.Phase != st.Phase || words(back.Reason) != words(st.Reason) {
			t.Fatalf("status %q reads back as %+v, want %+v", b, back, st)
		}
		var fields map[string]any
		if err := yaml.Unmarshal(b, &fields); err != nil || len(fields) > 3 {
			t.Fatalf("status %q holds fields %v", b, fields)
		}
	})
}
