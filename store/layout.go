package store

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// This file is the only place that knows object keys.

const (
	manifestName = "manifest"
	leaseName    = "__lease"
	timeName     = "__time"
	indexName    = "index"
	partsDir     = "index.d/"
	segmentExt   = ".kan"
	snapshotsDir = "snapshots/"
	requestName  = "__snapshot_request"
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

func topicDir(topic string) string    { return topic + "/" }
func manifestKey(topic string) string { return topicDir(topic) + manifestName }
func leaseKey(topic string) string    { return topicDir(topic) + leaseName }
func timeKey(topic string) string     { return topicDir(topic) + timeName }
func requestKey(topic string) string  { return topicDir(topic) + requestName }
func flatIndexKey(topic string) string {
	return Loc{Topic: topic}.dir() + indexName
}

// dir is the directory holding the snapshot's index and segments.
func (l Loc) dir() string {
	if l.Version == 0 {
		return topicDir(l.Topic)
	}
	return topicDir(l.Topic) + snapshotsDir + "v" + strconv.Itoa(l.Version) + "/" + l.Topic + "/"
}

func (l Loc) indexKey() string            { return l.dir() + indexName }
func (l Loc) partKey(seq int) string      { return fmt.Sprintf("%s%s%08d", l.dir(), partsDir, seq) }
func (l Loc) segmentKey(id string) string { return l.dir() + id + segmentExt }

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
