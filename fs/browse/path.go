package browse

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kbackup/kbackup/store"
)

// Kind is what a Path names.
type Kind int

// The kinds of paths of the tree, from the root down.
const (
	KindRoot          Kind = iota // the root: topics/ and restore/
	KindTopics                    // topics
	KindTopic                     // topics/T
	KindManifest                  // topics/T/manifest
	KindLatest                    // topics/T/latest, a link to snapshots/vN
	KindSnapshots                 // topics/T/snapshots
	KindSnapshot                  // topics/T/snapshots/vN
	KindSnapshotYAML              // topics/T/snapshots/vN/snapshot.yaml
	KindIndex                     // topics/T/snapshots/vN/index
	KindPartition                 // topics/T/snapshots/vN/P
	KindRecords                   // topics/T/snapshots/vN/P/records.jsonl
	KindSegments                  // topics/T/snapshots/vN/P/segments
	KindSegment                   // topics/T/snapshots/vN/P/segments/FIRST-LAST.jsonl
	KindGroups                    // topics/T/snapshots/vN/groups
	KindGroup                     // topics/T/snapshots/vN/groups/GROUP.jsonl
	KindRestores                  // restore
	KindRestore                   // restore/NAME (restore/README without a Restorer)
	KindRestoreStatus             // restore/NAME/status
)

var kindNames = [...]string{"root", "topics", "topic", "manifest", "latest", "snapshots", "snapshot", "snapshot.yaml",
	"index", "partition", "records", "segments", "segment", "groups", "group", "restores", "restore", "restore status"}

// String names the kind for messages.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Path is a parsed path of the browse tree. Only the fields its Kind
// names are set; the zero Path is the root. Parse and Path.String are
// inverse: Parse(p.String()) == p for every Path Parse returns.
type Path struct {
	Kind Kind
	// Topic is set from KindTopic down to KindSegment.
	Topic string
	// Version is the snapshot, from KindSnapshot down. With Latest (set
	// below KindSnapshot only: latest/ itself is KindLatest) the path goes
	// through topics/T/latest/ and Version is unknown (0) until
	// Tree.Resolve sets it from the manifest.
	Version int
	Latest  bool
	// Partition is set from KindPartition down.
	Partition int32
	// First and Last are a segment's first and last offsets.
	First, Last int64
	// Name is a restore's name under restore/.
	Name string
	// Group is a consumer group's name (KindGroup).
	Group string
}

// Fixed names of the tree.
const (
	topicsDir    = "topics"
	restoreDir   = "restore"
	manifestFile = "manifest"
	latestLink   = LatestName
	snapshotsDir = "snapshots"
	snapshotFile = "snapshot.yaml"
	indexFile    = "index"
	recordsFile  = "records.jsonl"
	segmentsDir  = "segments"
	statusFile   = "status"
	groupsDir    = "groups"
	// ReadmeName is restore/README, shown when nothing can be restored.
	ReadmeName = "README"
	// LatestName is topics/T/latest, the link to T's active snapshot; a
	// copy of it into restore/ keeping this name restores into T.
	LatestName = "latest"
)

// maxElem is the longest path element (NAME_MAX).
const maxElem = 255

// TopicPath, SnapshotPath, PartitionPath and RestorePath build the paths
// the adapters name most.
func TopicPath(topic string) Path { return Path{Kind: KindTopic, Topic: topic} }

// SnapshotPath is topics/T/snapshots/vN of loc.
func SnapshotPath(loc store.Loc) Path {
	return Path{Kind: KindSnapshot, Topic: loc.Topic, Version: loc.Version}
}

// PartitionPath is topics/T/snapshots/vN/P.
func PartitionPath(loc store.Loc, p int32) Path {
	return Path{Kind: KindPartition, Topic: loc.Topic, Version: loc.Version, Partition: p}
}

// RestorePath is restore/NAME.
func RestorePath(name string) Path { return Path{Kind: KindRestore, Name: name} }

// Loc is the snapshot the path is in (meaningful from KindSnapshot down,
// and for a topic's manifest with Version 0).
func (p Path) Loc() store.Loc { return store.Loc{Topic: p.Topic, Version: p.Version} }

// InSnapshot reports whether the path is a snapshot or below one.
func (p Path) InSnapshot() bool { return p.Kind >= KindSnapshot && p.Kind <= KindGroup }

// InRestore reports whether the path is restore/ or below.
func (p Path) InRestore() bool { return p.Kind >= KindRestores }

// Parent is the directory holding p; the root is its own parent. The
// parent of a path through latest/ is latest's snapshot directory, still
// through latest.
func (p Path) Parent() Path {
	q := p
	switch p.Kind {
	case KindRoot:
	case KindTopics, KindRestores:
		q = Path{}
	case KindTopic:
		q = Path{Kind: KindTopics}
	case KindManifest, KindLatest, KindSnapshots:
		q = TopicPath(p.Topic)
	case KindSnapshot:
		q = Path{Kind: KindSnapshots, Topic: p.Topic}
	case KindSnapshotYAML, KindIndex, KindPartition, KindGroups:
		q.Kind, q.Partition = KindSnapshot, 0
	case KindGroup:
		q.Kind, q.Group = KindGroups, ""
	case KindRecords, KindSegments:
		q.Kind = KindPartition
	case KindSegment:
		q.Kind, q.First, q.Last = KindSegments, 0, 0
	case KindRestore:
		q = Path{Kind: KindRestores}
	case KindRestoreStatus:
		q.Kind = KindRestore
	}
	if q.Kind == KindSnapshot && q.Latest {
		q = Path{Kind: KindLatest, Topic: p.Topic} // latest/ itself
	}
	return q
}

// Base is the last element of the path ("" for the root).
func (p Path) Base() string {
	switch p.Kind {
	case KindSegment: // listed by the 100,000: no full path built
		return SegmentName(p.First, p.Last)
	case KindPartition:
		return strconv.FormatInt(int64(p.Partition), 10)
	}
	s := p.String()
	return s[strings.LastIndexByte(s, '/')+1:]
}

// Child is the path of name in directory p, or an error matching
// ErrBadPath when p holds no such name by the grammar.
func (p Path) Child(name string) (Path, error) {
	if p.Kind == KindRoot {
		return Parse(name)
	}
	if strings.Contains(name, "/") {
		return Path{}, badPath(p.String()+"/"+name, "a name holds no slash")
	}
	return Parse(p.String() + "/" + name)
}

// String formats the path: slash-separated, relative to the tree's root,
// without leading or trailing slash ("" for the root).
func (p Path) String() string {
	var b strings.Builder
	p.format(&b)
	return b.String()
}

func (p Path) format(b *strings.Builder) {
	switch p.Kind {
	case KindRoot:
		return
	case KindTopics:
		b.WriteString(topicsDir)
		return
	case KindRestores:
		b.WriteString(restoreDir)
		return
	case KindRestore, KindRestoreStatus:
		b.WriteString(restoreDir + "/")
		b.WriteString(p.Name)
		if p.Kind == KindRestoreStatus {
			b.WriteString("/" + statusFile)
		}
		return
	}
	b.WriteString(topicsDir + "/")
	b.WriteString(p.Topic)
	switch p.Kind {
	case KindTopic:
		return
	case KindManifest:
		b.WriteString("/" + manifestFile)
		return
	case KindLatest:
		b.WriteString("/" + latestLink)
		return
	case KindSnapshots:
		b.WriteString("/" + snapshotsDir)
		return
	}
	if p.Latest {
		b.WriteString("/" + latestLink)
	} else {
		b.WriteString("/" + snapshotsDir + "/v")
		b.WriteString(strconv.Itoa(p.Version))
	}
	switch p.Kind {
	case KindSnapshot:
		return
	case KindSnapshotYAML:
		b.WriteString("/" + snapshotFile)
		return
	case KindIndex:
		b.WriteString("/" + indexFile)
		return
	case KindGroups, KindGroup:
		b.WriteString("/" + groupsDir)
		if p.Kind == KindGroup {
			b.WriteString("/" + GroupFileName(p.Group))
		}
		return
	}
	b.WriteString("/")
	b.WriteString(strconv.FormatInt(int64(p.Partition), 10))
	switch p.Kind {
	case KindRecords:
		b.WriteString("/" + recordsFile)
	case KindSegments:
		b.WriteString("/" + segmentsDir)
	case KindSegment:
		b.WriteString("/" + segmentsDir + "/")
		b.WriteString(SegmentName(p.First, p.Last))
	}
}

// SegmentName is a segment file's name: its first and last offsets,
// zero-padded to 20 digits so that names sort by offset.
func SegmentName(first, last int64) string {
	if first < 0 || last < 0 {
		return fmt.Sprintf("%020d-%020d.jsonl", first, last)
	}
	var b [47]byte
	zeroPad(b[:20], first)
	b[20] = '-'
	zeroPad(b[21:41], last)
	copy(b[41:], ".jsonl")
	return string(b[:])
}

// zeroPad writes n (>= 0) into b in decimal, right-aligned, zero-padded.
func zeroPad(b []byte, n int64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
}

// parseSegmentName is the inverse of SegmentName.
func parseSegmentName(name string) (first, last int64, ok bool) {
	stem, ok := strings.CutSuffix(name, ".jsonl")
	if !ok || len(stem) != 41 || stem[20] != '-' {
		return 0, 0, false
	}
	first, ok1 := digits(stem[:20])
	last, ok2 := digits(stem[21:])
	return first, last, ok1 && ok2
}

// digits parses s, which must be only decimal digits, as an int64.
func digits(s string) (int64, bool) {
	if s == "" || strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// canonicalInt parses s as a non-negative decimal spelled without sign or
// leading zeros, at most max.
func canonicalInt(s string, max int64) (int64, bool) {
	n, ok := digits(s)
	if !ok || n > max || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

// ParseVersion turns "v3" into 3.
func ParseVersion(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "v")
	if !ok {
		return 0, false
	}
	v, ok := canonicalInt(s, 1<<31-1)
	return int(v), ok
}

// ParsePartition turns "3" into partition 3.
func ParsePartition(name string) (int32, bool) {
	p, ok := canonicalInt(name, 1<<31-1)
	return int32(p), ok
}

// validElem checks one path element of a name taken from storage (a
// topic).
func validElem(s string) bool {
	return s != "" && s != "." && s != ".." && len(s) <= maxElem && !strings.ContainsAny(s, "/\x00")
}

// Parse parses a path of the tree. It takes the form String returns; a
// leading or trailing slash is ignored. Anything else — an empty, "." or
// ".." element, an unknown name, a number not spelled as the tree spells
// it, an element longer than 255 bytes — fails with an error matching
// ErrBadPath. Parse reads nothing: whether the path exists is
// Tree.Stat's question.
func Parse(s string) (Path, error) {
	orig := s
	s = strings.TrimPrefix(s, "/")
	s = strings.TrimSuffix(s, "/")
	if s == "" {
		return Path{}, nil
	}
	el := strings.Split(s, "/")
	for _, e := range el {
		if !validElem(e) {
			return Path{}, badPath(orig, fmt.Sprintf("element %.40q is not a name", e))
		}
	}
	switch el[0] {
	case topicsDir:
		return parseTopics(orig, el[1:])
	case restoreDir:
		return parseRestore(orig, el[1:])
	}
	return Path{}, badPath(orig, "the tree holds topics/ and restore/")
}

func parseRestore(orig string, el []string) (Path, error) {
	p := Path{Kind: KindRestores}
	if len(el) == 0 {
		return p, nil
	}
	if err := ValidRestoreName(el[0]); err != nil {
		return Path{}, badPath(orig, err.Error())
	}
	p.Kind, p.Name = KindRestore, el[0]
	switch {
	case len(el) == 1:
		return p, nil
	case len(el) == 2 && el[1] == statusFile:
		p.Kind = KindRestoreStatus
		return p, nil
	}
	return Path{}, badPath(orig, "a restore's directory holds only status")
}

func parseTopics(orig string, el []string) (Path, error) {
	p := Path{Kind: KindTopics}
	if len(el) == 0 {
		return p, nil
	}
	p.Kind, p.Topic = KindTopic, el[0]
	el = el[1:]
	if len(el) == 0 {
		return p, nil
	}
	switch el[0] {
	case manifestFile:
		p.Kind = KindManifest
		return p, only(orig, el, 1)
	case latestLink:
		p.Kind, p.Latest = KindLatest, true
		if len(el) == 1 {
			p.Latest = false // the link itself
			return p, nil
		}
		el = el[1:]
	case snapshotsDir:
		p.Kind = KindSnapshots
		if len(el) == 1 {
			return p, nil
		}
		v, ok := ParseVersion(el[1])
		if !ok {
			return Path{}, badPath(orig, fmt.Sprintf("%.40q is not a snapshot (vN)", el[1]))
		}
		p.Version = v
		el = el[2:]
	default:
		return Path{}, badPath(orig, "a topic holds manifest, latest and snapshots")
	}
	p.Kind = KindSnapshot
	if len(el) == 0 {
		return p, nil
	}
	switch el[0] {
	case snapshotFile:
		p.Kind = KindSnapshotYAML
		return p, only(orig, el, 1)
	case indexFile:
		p.Kind = KindIndex
		return p, only(orig, el, 1)
	case groupsDir:
		p.Kind = KindGroups
		if len(el) == 1 {
			return p, nil
		}
		g, ok := parseGroupFileName(el[1])
		if !ok {
			return Path{}, badPath(orig, fmt.Sprintf("%.60q is not a consumer group's file (GROUP.jsonl, GROUP escaped)", el[1]))
		}
		p.Kind, p.Group = KindGroup, g
		return p, only(orig, el, 2)
	}
	part, ok := ParsePartition(el[0])
	if !ok {
		return Path{}, badPath(orig, fmt.Sprintf("%.40q is not a partition number", el[0]))
	}
	p.Kind, p.Partition = KindPartition, part
	if len(el) == 1 {
		return p, nil
	}
	switch el[1] {
	case recordsFile:
		p.Kind = KindRecords
		return p, only(orig, el, 2)
	case segmentsDir:
		p.Kind = KindSegments
	default:
		return Path{}, badPath(orig, "a partition holds records.jsonl and segments")
	}
	if len(el) == 2 {
		return p, nil
	}
	first, last, ok := parseSegmentName(el[2])
	if !ok {
		return Path{}, badPath(orig, fmt.Sprintf("%.60q is not a segment name (FIRST-LAST.jsonl, 20 digits each)", el[2]))
	}
	p.Kind, p.First, p.Last = KindSegment, first, last
	return p, only(orig, el, 3)
}

// only fails when el has more than n elements (a file has no children).
func only(orig string, el []string, n int) error {
	if len(el) > n {
		return badPath(orig, el[n-1]+" is a file")
	}
	return nil
}
