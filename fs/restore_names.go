package fs

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxRestoreName is the longest name accepted in restore/: Kafka's limit
// on topic names, since a copy's name becomes its target topic.
const maxRestoreName = 249

// errBadName is the reason a name is refused in restore/.
type errBadName string

func (e errBadName) Error() string { return string(e) }

// validRestoreName checks a name made directly in restore/: it names a
// restore, becomes a target topic or a status file's first line, and is
// printed in logs, so it must be short, valid UTF-8, without control
// characters (a newline could forge status fields).
func validRestoreName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return errBadName("empty name")
	case len(name) > maxRestoreName:
		return errBadName(fmt.Sprintf("name of %d bytes, longer than %d", len(name), maxRestoreName))
	case !utf8.ValidString(name):
		return errBadName("name is not valid UTF-8")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }):
		return errBadName("name holds control characters")
	}
	return nil
}

// rsyncTemp matches rsync's temporary names: .<name>.<6 characters>.
var rsyncTemp = regexp.MustCompile(`^\.(.+)\.[A-Za-z0-9]{6}$`)

// restoreName is the restore a copy shows as: a directory's name, or a spec
// file's name without .yaml/.yml (and without rsync's temporary dressing).
func restoreName(entry string, dir bool) string {
	if dir {
		return entry
	}
	if m := rsyncTemp.FindStringSubmatch(entry); m != nil {
		entry = m[1]
	}
	for _, ext := range []string{".yaml", ".yml"} {
		if n, ok := strings.CutSuffix(entry, ext); ok && n != "" {
			return n
		}
	}
	return entry + ".restore"
}

// copyStatus is the status file of a copy the Restorer does not know
// (yet): YAML, so that any name or reason is quoted as needed.
type copyStatus struct {
	Restore string `yaml:"restore"`
	Phase   string `yaml:"phase"`
	Reason  string `yaml:"reason,omitempty"`
}

func (s copyStatus) render() []byte {
	b, err := yaml.Marshal(s)
	if err != nil { // cannot happen for strings
		return []byte("phase: " + s.Phase + "\n")
	}
	return b
}
