package restore

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// unknownFieldRE matches yaml.v3's message for a key no field takes
// (Decoder.KnownFields).
var unknownFieldRE = regexp.MustCompile(`line (\d+): field (\S+) not found in type (\S+)`)

// unmarshalErrorsRE matches the prefix yaml.v3 puts before its list.
var unmarshalErrorsRE = regexp.MustCompile(`yaml: unmarshal errors:\s*`)

// ExplainUnknownFields rewrites yaml.v3's "line N: field X not found in
// type T" (Decoder.KnownFields) in err as "FILE:N: unknown field "X" (did
// you mean Y?)", Y being the nearest YAML key T takes; roots are the values
// decoded into. With file "", the line reads "line N: unknown field…".
// Other errors are returned as they are; a rewritten one unwraps to err.
// The CLI uses it for its config file too.
func ExplainUnknownFields(file string, err error, roots ...any) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if !unknownFieldRE.MatchString(msg) {
		return err
	}
	fields := map[string][]string{}
	for _, r := range roots {
		collectFields(reflect.TypeOf(r), fields, map[reflect.Type]bool{})
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	msg = unmarshalErrorsRE.ReplaceAllString(msg, "")
	msg = unknownFieldRE.ReplaceAllStringFunc(msg, func(s string) string {
		m := unknownFieldRE.FindStringSubmatch(s)
		out := fmt.Sprintf("%s:%s: unknown field %q", file, m[1], m[2])
		if file == "" {
			out = fmt.Sprintf("line %s: unknown field %q", m[1], m[2])
		}
		names := fields[m[3]]
		if near := nearestName(m[2], names); near != "" {
			return out + fmt.Sprintf(" (did you mean %s?)", near)
		}
		if len(names) > 0 {
			return out + " (fields here: " + strings.Join(names, ", ") + ")"
		}
		return out
	})
	return &rewordedError{msg: strings.Join(strings.Fields(msg), " "), err: err}
}

// rewordedError gives err a clearer message.
type rewordedError struct {
	msg string
	err error
}

func (e *rewordedError) Error() string { return e.msg }
func (e *rewordedError) Unwrap() error { return e.err }

// collectFields records, for every struct type reachable from t, the YAML
// keys it takes, by the type's name as yaml.v3 prints it.
func collectFields(t reflect.Type, out map[string][]string, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	var names []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if strings.Contains(opts, "inline") {
				walk(f.Type)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			names = append(names, name)
			collectFields(f.Type, out, seen)
		}
	}
	walk(t)
	sort.Strings(names)
	out[t.String()] = names
}

// nearestName returns the name in names closest to s by edit distance
// (ignoring case), or "" when none is close.
func nearestName(s string, names []string) string {
	best, bestD := "", len(s)/3+2
	for _, n := range names {
		if d := editDistance(strings.ToLower(s), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
