package restore

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParseSpec feeds ParseSpec arbitrary bytes (the CLI's
// -f file, a spec copied into the mount's restore/). Invariants: no panic;
// errors wrap ErrInvalidSpec and fit one line; allocation stays bounded; a
// parsed spec validates its fields, survives a YAML round trip unchanged,
// and is admitted by a strict mount exactly when it neither skips
// preflight checks nor allows non-empty targets. Seeds:
// testdata/fuzz/FuzzParseSpec.
func FuzzParseSpec(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		spec, err := ParseSpec(data)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20+uint64(len(data))*256 {
			t.Fatalf("parsing %d bytes allocated %d bytes", len(data), alloc)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line wrapping ErrInvalidSpec", err)
			}
			return
		}
		if err := spec.validate(false); err != nil {
			t.Fatalf("parsed spec does not validate: %v", err)
		}
		out, err := yaml.Marshal(spec)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := ParseSpec(out)
		if err != nil {
			t.Fatalf("the spec marshalled as\n%s\ndoes not parse again: %v", out, err)
		}
		if out2, _ := yaml.Marshal(again); !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the spec:\n%s\n%s", out, out2)
		}
		risky := spec.Spec.Config.AllowNonEmpty || spec.Spec.Enabled != nil && !*spec.Spec.Enabled
		for _, tm := range spec.Spec.Config.Topics {
			risky = risky || tm.DisablePreflightChecks
		}
		rs := &Runs{}
		if err := rs.admit(spec); (err != nil) != risky {
			t.Fatalf("strict admission: %v, but the spec risky=%t", err, risky)
		}
	})
}
