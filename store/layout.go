package store

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// This file is the only place that knows object keys.

const (
	manifestName = "manifest"    // format 1 manifest; a stub naming format 2 afterwards
	manifestsDir = "manifest.d/" // manifest register (format 2)
	leaseName    = "__lease"     // format 1 lease
	leasesDir    = "__lease.d/"  // lease register (format 2)
	timeName     = "__time"
	indexName    = "index"    // format 1 index head; a stub naming format 2 afterwards
	partsDir     = "index.d/" // sealed parts: <SEQ> (format 1), <EPOCH>/<SEQ> (format 2)
	headsDir     = "index.d/heads/"
	segmentExt   = ".kan"
	snapshotsDir = "snapshots/"
	requestName  = "__snapshot_request"    // format 1 request
	requestsDir  = "__snapshot_request.d/" // one object per request (format 2)
)

// Loc names one snapshot of one topic. Version 0 is the flat layout.
type Loc struct {
	Topic   string
	Version int
}

// String returns "topic/vN" (or "topic (flat)").
func (l Loc) String() string {
	if l.Version == 0 {
		return l.Topic + " (flat layout)"
	}
	return fmt.Sprintf("%s/v%d", l.Topic, l.Version)
}

func topicDir(topic string) string     { return topic + "/" }
func manifestKey(topic string) string  { return topicDir(topic) + manifestName }
func manifestsKey(topic string) string { return topicDir(topic) + manifestsDir }
func leaseKey(topic string) string     { return topicDir(topic) + leaseName }
func leasesKey(topic string) string    { return topicDir(topic) + leasesDir }
func timeKey(topic string) string      { return topicDir(topic) + timeName }
func requestKey(topic string) string   { return topicDir(topic) + requestName }
func requestsKey(topic string) string  { return topicDir(topic) + requestsDir }
func requestObjKey(topic, token string) string {
	return requestsKey(topic) + token
}

// dir is the directory holding the snapshot's index and segments.
func (l Loc) dir() string {
	if l.Version == 0 {
		return topicDir(l.Topic)
	}
	return topicDir(l.Topic) + snapshotsDir + "v" + strconv.Itoa(l.Version) + "/" + l.Topic + "/"
}

func (l Loc) indexKey() string { return l.dir() + indexName }
func (l Loc) headsKey() string { return l.dir() + headsDir }

// partKey is sealed part seq of epoch; epoch "" is format 1's flat
// numbering.
func (l Loc) partKey(epoch string, seq int) string {
	if epoch == "" {
		return fmt.Sprintf("%s%s%08d", l.dir(), partsDir, seq)
	}
	return fmt.Sprintf("%s%s%s/%08d", l.dir(), partsDir, epoch, seq)
}

func (l Loc) segmentKey(id string) string { return l.dir() + id + segmentExt }

// registerKey is entry seq of the register in dir: zero-padded so that
// listings return entries in order.
func registerKey(dir string, seq int64) string { return fmt.Sprintf("%s%016d", dir, seq) }

// registerSeq parses the entry number of a register key directly in dir.
func registerSeq(dir, key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, dir)
	if !ok || len(rest) != 16 {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n > 0
}

// SegmentKey returns the object key of segment id in this snapshot, for
// messages and tools that name objects.
func (l Loc) SegmentKey(id string) string { return l.segmentKey(id) }

// IndexKey returns the object key of the snapshot's index head.
func (l Loc) IndexKey() string { return l.indexKey() }

// segmentID returns the ULID of a segment key directly in dir, or "".
func segmentID(dir, key string) string {
	rest, ok := strings.CutPrefix(key, dir)
	if !ok || strings.Contains(rest, "/") || !strings.HasSuffix(rest, segmentExt) {
		return ""
	}
	return strings.TrimSuffix(path.Base(rest), segmentExt)
}

// ValidTopic reports whether name is usable as a Kafka topic and a key part.
func ValidTopic(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 249 {
		return fmt.Errorf("invalid topic name %q", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("invalid topic name %q: only letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}
