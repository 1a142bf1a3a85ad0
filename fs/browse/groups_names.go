package browse

import (
	"fmt"
	"strings"
)

// groupFileExt ends a consumer group's file name.
const groupFileExt = ".jsonl"

// GroupFileName is the name of group's file under groups/: the group's
// name with every byte outside [A-Za-z0-9._-] (and so every '/', '%' and
// NUL) written %XX, then ".jsonl". Most group names appear as they are.
// A name longer than a path element may be (GroupFileOK) is not shown.
func GroupFileName(group string) string {
	var b strings.Builder
	for i := 0; i < len(group); i++ {
		c := group[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	b.WriteString(groupFileExt)
	return b.String()
}

// GroupFileOK reports whether group has a file in the tree: a non-empty
// name whose file name fits a path element.
func GroupFileOK(group string) bool {
	return group != "" && len(GroupFileName(group)) <= maxElem
}

// parseGroupFileName is the inverse of GroupFileName; it accepts only the
// spelling GroupFileName gives.
func parseGroupFileName(name string) (string, bool) {
	stem, ok := strings.CutSuffix(name, groupFileExt)
	if !ok || stem == "" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(stem); i++ {
		c := stem[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(stem) {
			return "", false
		}
		var v byte
		for _, h := range []byte{stem[i+1], stem[i+2]} {
			switch {
			case h >= '0' && h <= '9':
				v = v<<4 | (h - '0')
			case h >= 'A' && h <= 'F':
				v = v<<4 | (h - 'A' + 10)
			default:
				return "", false
			}
		}
		b.WriteByte(v)
		i += 2
	}
	g := b.String()
	return g, GroupFileName(g) == name
}
