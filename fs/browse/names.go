package browse

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxRestoreName is the longest name accepted in restore/: Kafka's limit
// on topic names, since a copy's name becomes its target topic.
const MaxRestoreName = 249

// errBadName is the reason a name is refused in restore/.
type errBadName string

func (e errBadName) Error() string { return string(e) }

// ValidRestoreName checks a name made directly in restore/: it names a
// restore, becomes a target topic or a status file's first line, and is
// printed in logs, so it must be short, valid UTF-8, without control
// characters (a newline could forge status fields).
func ValidRestoreName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return errBadName("empty name")
	case len(name) > MaxRestoreName:
		return errBadName(fmt.Sprintf("name of %d bytes, longer than %d", len(name), MaxRestoreName))
	case !utf8.ValidString(name):
		return errBadName("name is not valid UTF-8")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }):
		return errBadName("name holds control characters")
	}
	return nil
}

// rsyncTemp matches rsync's temporary names: .<name>.<6 characters>.
var rsyncTemp = regexp.MustCompile(`^\.(.+)\.[A-Za-z0-9]{6}$`)

// StripRsyncTemp returns the name an rsync temporary name stands for
// (.<name>.XXXXXX), or name itself.
func StripRsyncTemp(name string) string {
	if m := rsyncTemp.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return name
}

// RestoreName is the restore a copy shows as: a directory's name, or a spec
// file's name without .yaml/.yml (and without rsync's temporary dressing).
func RestoreName(entry string, dir bool) string {
	if dir {
		return entry
	}
	entry = StripRsyncTemp(entry)
	for _, ext := range []string{".yaml", ".yml"} {
		if n, ok := strings.CutSuffix(entry, ext); ok && n != "" {
			return n
		}
	}
	return entry + ".restore"
}
