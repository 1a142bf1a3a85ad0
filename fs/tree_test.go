package fs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/store"
)

// backup is a test backup: what was stored, to compare the mount with.
type backup struct {
	st   *store.Store
	dir  string
	recs map[store.Loc]map[int32][]store.Record
	segs map[store.Loc]map[int32][]store.SegmentEntry
}

// addSegments stores recs of partition p in loc as segments of perSeg
// records with small blocks, and indexes them.
func (b *backup) addSegments(tb testing.TB, loc store.Loc, p int32, recs []store.Record, perSeg int) {
	tb.Helper()
	if b.recs[loc] == nil {
		b.recs[loc] = map[int32][]store.Record{}
		b.segs[loc] = map[int32][]store.SegmentEntry{}
	}
	var es []store.SegmentEntry
	for i := 0; i < len(recs); i += perSeg {
		codec := store.CodecZstd
		if i/perSeg%2 == 1 {
			codec = store.CodecNone
		}
		es = append(es, writeSegment(tb, b.st, loc, p, recs[i:min(i+perSeg, len(recs))], 600, codec))
	}
	appendIndex(tb, b.st, loc, es...)
	b.recs[loc][p] = append(b.recs[loc][p], recs...)
	b.segs[loc][p] = append(b.segs[loc][p], es...)
}

// newBackup makes topic "orders" (v1 archived, v2 active with 3
// partitions) and the flat-layout topic "legacy".
func newBackup(tb testing.TB) *backup {
	tb.Helper()
	st, dir := openStore(tb)
	b := &backup{st: st, dir: dir, recs: map[store.Loc]map[int32][]store.Record{}, segs: map[store.Loc]map[int32][]store.SegmentEntry{}}
	v1, v2 := store.Loc{Topic: "orders", Version: 1}, store.Loc{Topic: "orders", Version: 2}
	b.addSegments(tb, v1, 0, genRecords(0, 0, 40), 15)
	for p := int32(0); p < 3; p++ {
		b.addSegments(tb, v2, p, genRecords(p, 100*int64(p), 120+int(p)*10), 50)
	}
	archived := baseTime.Add(time.Hour)
	m := &store.Manifest{Topic: "orders", Active: 2, Snapshots: []store.Snapshot{
		{Version: 1, TopicID: "id-one", Created: baseTime, Archived: &archived, Reason: "topic recreated", Partitions: 1},
		{Version: 2, TopicID: "id-two", Created: archived, Partitions: 3},
	}}
	writeManifest(tb, st, m)
	b.addSegments(tb, store.Loc{Topic: "legacy"}, 0, genRecords(0, 0, 30), 10)
	return b
}

func TestTree(t *testing.T) {
	b := newBackup(t)
	mp := mountStore(t, b.st, Options{})
	topic := filepath.Join(mp, "topics", "orders")
	v2 := filepath.Join(topic, "snapshots", "v2")

	tests := []struct {
		name, script, want string
	}{
		{"root", "ls " + mp, "restore\ntopics\n"},
		{"topics", "ls " + mp + "/topics", "legacy\norders\n"},
		{"topic", "ls " + topic, "latest\nmanifest\nsnapshots\n"},
		{"snapshots", "ls " + topic + "/snapshots", "v1\nv2\n"},
		{"latest", "readlink " + topic + "/latest", "snapshots/v2\n"},
		{"latest resolves", "ls " + topic + "/latest/", "0\n1\n2\nindex\nsnapshot.yaml\n"},
		{"partition", "ls " + v2 + "/1", "records.jsonl\nsegments\n"},
		{"v1", "ls " + topic + "/snapshots/v1", "0\nindex\nsnapshot.yaml\n"},
		{"flat latest", "readlink " + mp + "/topics/legacy/latest", "snapshots/v0\n"},
		{"flat snapshots", "ls " + mp + "/topics/legacy/snapshots", "v0\n"},
		{"restore", "ls " + mp + "/restore", "README\n"},
		{"find", "find " + mp + "/topics -name '*.jsonl' | wc -l", "20\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sh(t, tt.script); got != tt.want {
				t.Errorf("%s:\ngot  %q\nwant %q", tt.script, got, tt.want)
			}
		})
	}
}

func TestRecords(t *testing.T) {
	b := newBackup(t)
	mp := mountStore(t, b.st, Options{})
	for loc, parts := range b.recs {
		for p, recs := range parts {
			dir := filepath.Join(mp, "topics", loc.Topic, "snapshots", "v"+strconv.Itoa(loc.Version), strconv.Itoa(int(p)))
			t.Run(fmt.Sprintf("%s/%d", loc, p), func(t *testing.T) {
				checkPartition(t, dir, recs, b.segs[loc][p])
			})
		}
	}
}

func checkPartition(t *testing.T, dir string, recs []store.Record, segs []store.SegmentEntry) {
	t.Helper()
	f := filepath.Join(dir, "records.jsonl")
	want := string(jsonLines(recs))
	lines := strings.SplitAfter(want, "\n")
	lines = lines[:len(lines)-1]
	if got := run(t, "cat", f); got != want {
		t.Fatalf("cat records.jsonl differs:\ngot  %.300q\nwant %.300q", got, want)
	}
	if got := run(t, "stat", "-c", "%s", f); got != fmt.Sprintf("%d\n", len(want)) {
		t.Errorf("stat size %s, want %d", got, len(want))
	}
	if got := run(t, "head", "-n", "3", f); got != strings.Join(lines[:3], "") {
		t.Errorf("head -n 3: %q", got)
	}
	if got := run(t, "tail", "-n", "10", f); got != strings.Join(lines[len(lines)-10:], "") {
		t.Errorf("tail -n 10: %q", got)
	}
	if got := run(t, "tail", "-c", "100", f); got != want[len(want)-100:] {
		t.Errorf("tail -c 100: %q", got)
	}
	if got := run(t, "wc", "-l", f); !strings.HasPrefix(got, fmt.Sprintf("%d ", len(recs))) {
		t.Errorf("wc -l: %q, want %d", got, len(recs))
	}
	k := recs[len(recs)/2]
	if got := run(t, "grep", "-c", fmt.Sprintf(`"offset":%d,`, k.Offset), f); got != "1\n" {
		t.Errorf("grep offset %d: %q", k.Offset, got)
	}
	// jq parses every line; binary keys are base64 and marked.
	var wantB64, wantNull []string
	for _, r := range recs {
		if r.Key != nil && !isUTF8(r.Key) {
			wantB64 = append(wantB64, strconv.FormatInt(r.Offset, 10))
		}
		if r.Value == nil {
			wantNull = append(wantNull, strconv.FormatInt(r.Offset, 10))
		}
	}
	if got := run(t, "jq", "-c", `select(.key_encoding=="base64") | .offset`, f); got != join(wantB64) {
		t.Errorf("jq base64 keys: %q, want %q", got, join(wantB64))
	}
	if got := run(t, "jq", "-c", `select(.value==null) | .offset`, f); got != join(wantNull) {
		t.Errorf("jq null values: %q, want %q", got, join(wantNull))
	}
	if got := run(t, "sh", "-c", `jq -c 'select(.value!=null) | .value | fromjson | .n' `+f+` | head -n 1`); got == "" {
		t.Errorf("jq fromjson produced nothing")
	}
	// Segment files: names sorted by offset, each the slice of its records.
	names := strings.Fields(run(t, "ls", filepath.Join(dir, "segments")))
	if len(names) != len(segs) {
		t.Fatalf("ls segments: %d names, want %d", len(names), len(segs))
	}
	at := 0
	for i, e := range segs {
		if names[i] != segmentName(&e) {
			t.Errorf("segment %d named %s, want %s", i, names[i], segmentName(&e))
		}
		sf := filepath.Join(dir, "segments", names[i])
		part := want[at : at+int(e.DecodedBytes)]
		at += int(e.DecodedBytes)
		if got := run(t, "cat", sf); got != part {
			t.Errorf("cat %s differs", names[i])
		}
		if got := run(t, "stat", "-c", "%s %Y", sf); got != fmt.Sprintf("%d %d\n", len(part), e.LastTimestamp.Unix()) {
			t.Errorf("stat %s: %q", names[i], got)
		}
	}
	if got := run(t, "stat", "-c", "%Y", f); got != fmt.Sprintf("%d\n", segs[len(segs)-1].LastTimestamp.Unix()) {
		t.Errorf("records.jsonl mtime %q", got)
	}
}

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "\x00\x01") == string(b) }

func join(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return strings.Join(ss, "\n") + "\n"
}

func TestTextFiles(t *testing.T) {
	b := newBackup(t)
	mp := mountStore(t, b.st, Options{})
	ctx := context.Background()
	topic := filepath.Join(mp, "topics", "orders")

	raw, err := b.st.RawManifest(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, "cat", topic+"/manifest"); got != string(raw) {
		t.Errorf("manifest:\n%s\nwant\n%s", got, raw)
	}
	var flat store.Manifest
	if err := yaml.Unmarshal([]byte(run(t, "cat", mp+"/topics/legacy/manifest")), &flat); err != nil || len(flat.Snapshots) != 1 || flat.Snapshots[0].Version != 0 {
		t.Errorf("flat manifest: %+v %v", flat, err)
	}

	var snap browse.SnapshotSummary
	if err := yaml.Unmarshal([]byte(run(t, "cat", topic+"/snapshots/v1/snapshot.yaml")), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Topic != "orders" || snap.Version != 1 || snap.Active || snap.Archived == nil || snap.TopicID != "id-one" ||
		snap.Records != 40 || len(snap.Partitions) != 1 || snap.Partitions[0].LastOffset != 39 || snap.TimeRange == nil {
		t.Errorf("snapshot.yaml of v1: %+v", snap)
	}
	if got := run(t, "stat", "-c", "%Y", topic+"/snapshots/v1"); got != fmt.Sprintf("%d\n", baseTime.Unix()) {
		t.Errorf("snapshot mtime %q, want creation %d", got, baseTime.Unix())
	}

	var ix browse.IndexDoc
	if err := yaml.Unmarshal([]byte(run(t, "cat", topic+"/snapshots/v2/index")), &ix); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, es := range b.segs[store.Loc{Topic: "orders", Version: 2}] {
		n += len(es)
	}
	if len(ix.Segments) != n || len(ix.Partitions) != 3 {
		t.Errorf("index: %d segments, %d partitions; want %d, 3", len(ix.Segments), len(ix.Partitions), n)
	}
	readme, err := os.ReadFile(mp + "/restore/README")
	if err != nil || !strings.Contains(string(readme), "--brokers") {
		t.Errorf("restore/README: %q %v", readme, err)
	}
}
