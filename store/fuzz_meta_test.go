package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kbackup/kbackup/store/storetest/fuzzcheck"
)

// Fuzz targets for the YAML objects of the layout: index heads and parts,
// manifests, lease entries and snapshot requests. Each asserts no panic,
// an allocation bounded by the input's size (YAML expands little; the
// limits checked before decoding keep inputs small), errors that wrap
// ErrCorrupt or ErrFormat, and invariants of what was accepted: what the
// rest of the store relies on (no negative partitions or counts, segment
// IDs that stay inside their directory, part ranges that add up).

// metaBound is what decoding data as YAML may allocate.
func metaBound(data []byte) uint64 { return fuzzcheck.Base + 64*uint64(len(data)) }

func metaError(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormat) {
		t.Fatalf("%s: error %v wraps neither ErrCorrupt nor ErrFormat", what, err)
	}
}

// metaSeeds returns a valid head, part, manifest, lease and request as
// stored, to start the fuzzers from.
func metaSeeds(tb testing.TB) (head, part, manifest, lease, request []byte) {
	tb.Helper()
	es := testEntries(3)
	h := &indexHead{Format: FormatVersion, Topic: "t", Version: 1, Seq: 4, Writer: "tok", Sealed: 2,
		Parts:      []partRange{{Epoch: "", First: 1, Last: 1}, {Epoch: "0a1b2c3d4e5f6789", First: 2, Last: 2}},
		Partitions: map[int32]PartitionSummary{0: {Segments: 1, Records: 9, NextOffset: 12, ExpiredBefore: 12, ExpiredAt: &baseTime}},
		Segments:   es}
	at := baseTime
	m := &Manifest{Format: FormatVersion, Topic: "t", Active: 2, Seq: 3, Writer: "tok", Retention: "720h0m0s", Snapshots: []Snapshot{
		{Version: 1, TopicID: "a", Created: baseTime, Archived: &at, Partitions: 2},
		{Version: 2, TopicID: "a", Created: baseTime, Partitions: 2, StartOffsets: map[int32]int64{0: 5}, Configs: map[string]string{"retention.ms": "1"}},
	}}
	must := func(b []byte, err error) []byte {
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	head = must(json.Marshal(h))
	part = must(json.Marshal(&indexPart{Format: FormatVersion, Segments: es}))
	manifest = must(yaml.Marshal(m))
	lease = must(yaml.Marshal(&leaseDoc{Holder: "h:1", Token: "tok", Acquired: baseTime, TTL: "2m0s", Process: &processID{Host: "h", PID: 1}}))
	request = must(yaml.Marshal(&SnapshotRequest{Token: "ab", Requested: baseTime, By: "me", Reason: "r"}))
	return
}

func FuzzIndexHead(f *testing.F) {
	head, _, _, _, _ := metaSeeds(f)
	f.Add(head)
	f.Add([]byte(`{"format": 2, "topic": "t", "version": 1, "seq": 1, "sealed_parts": 2000000}`))
	f.Add([]byte("format: 1\ntopic: t\nversion: 1\nsealed_parts: 2000000\n"))
	f.Add([]byte("format: 1\ntopic: t\nversion: 1\npartitions:\n  -1: {segments: 1}\n"))
	f.Add([]byte("format: 2\ntopic: t\nversion: 1\nseq: 4\nsealed_parts: 3\nparts: [{epoch: x/../y, first: 1, last: 3}]\n"))
	f.Add([]byte("format: 1\ntopic: t\nversion: 1\nsegments:\n  - ulid: ../../other/x\n"))
	f.Add([]byte("a: &a [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"))
	loc := Loc{Topic: "t", Version: 1}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h *indexHead
		var err error
		fuzzcheck.Bounded(t, "parse head", metaBound(data), func() { h, err = parseHead(loc, "head", data) })
		metaError(t, "head", err)
		if err != nil {
			return
		}
		if h.Sealed < 0 || h.Sealed > maxParts || len(h.Segments) > 4*sealEvery {
			t.Fatalf("accepted %d parts, %d entries", h.Sealed, len(h.Segments))
		}
		keys, _ := h.partKeys(loc)
		if h.Format >= 2 && len(keys) != h.Sealed {
			t.Fatalf("ranges name %d parts, sealed_parts %d", len(keys), h.Sealed)
		}
		for _, k := range keys {
			if !strings.HasPrefix(k, loc.dir()+partsDir) || strings.Contains(k, "..") {
				t.Fatalf("part key %q outside the index directory", k)
			}
		}
		checkAccepted(t, h.Segments)
		for p := range h.Partitions {
			if p < 0 {
				t.Fatalf("accepted partition %d", p)
			}
		}
	})
}

func FuzzIndexPart(f *testing.F) {
	_, part, _, _, _ := metaSeeds(f)
	f.Add(part)
	f.Add([]byte("format: 2\nsegments: [{ulid: 'a/b'}]\n"))
	f.Add([]byte("format: 9\nsegments: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var es []SegmentEntry
		var err error
		fuzzcheck.Bounded(t, "parse part", metaBound(data), func() { es, err = parsePart("part", data) })
		metaError(t, "part", err)
		if err == nil {
			checkAccepted(t, es)
		}
	})
}

// checkAccepted fails if an accepted entry could mislead a reader.
func checkAccepted(t *testing.T, es []SegmentEntry) {
	t.Helper()
	for _, e := range es {
		if !validSegmentID(e.ULID) || strings.ContainsAny(e.ULID, "/.") {
			t.Fatalf("accepted segment ID %q", e.ULID)
		}
		if e.Partition < 0 || e.Records < 0 || e.StoredBytes < 0 || e.NextOffset < e.StartOffset {
			t.Fatalf("accepted entry %+v", e)
		}
	}
}

func FuzzManifest(f *testing.F) {
	_, _, manifest, _, _ := metaSeeds(f)
	f.Add(manifest, int64(3))
	f.Add([]byte("format: 1\ntopic: t\nsnapshots:\n  - {version: 1, partitions: -3}\n"), int64(0))
	f.Add([]byte("format: 2\nmoved_to: t/manifest.d/\n"), int64(0))
	f.Add([]byte("format: 1\ntopic: t\nsnapshots: [{version: 1}, {version: 1}]\n"), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, seq int64) {
		var m *Manifest
		var err error
		fuzzcheck.Bounded(t, "parse manifest", metaBound(data), func() { m, err = parseManifest("t", "manifest", seq, data) })
		metaError(t, "manifest", err)
		if err != nil {
			return
		}
		if m.Topic != "t" || m.Active < 0 || len(m.Snapshots) > maxSnapshots {
			t.Fatalf("accepted %+v", m)
		}
		seen := map[int]bool{}
		for _, s := range m.Snapshots {
			if s.Version < 1 || seen[s.Version] || s.Partitions < 0 || s.Partitions > maxPartitions {
				t.Fatalf("accepted snapshot %+v", s)
			}
			seen[s.Version] = true
		}
		// What the store accepts, it writes back the same.
		c := m.clone()
		if c.Active != m.Active || len(c.Snapshots) != len(m.Snapshots) || c.RetentionPolicy() < 0 {
			t.Fatal("clone differs")
		}
	})
}

func FuzzLeaseEntry(f *testing.F) {
	_, _, _, lease, _ := metaSeeds(f)
	f.Add(lease)
	f.Add([]byte("\x00not: [yaml"))
	f.Add([]byte("holder: h\ntoken: t\nttl: -5m\nprocess: {pid: -1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d leaseDoc
		fuzzcheck.Bounded(t, "parse lease", metaBound(data), func() { d = parseLeaseDoc(data) })
		if d.Token == "" && d.Holder != "unknown (unreadable lease entry)" {
			t.Fatalf("a lease without a token reads as %+v", d)
		}
		if len(d.Holder) > 1024+len("…") {
			t.Fatalf("holder of %d bytes kept", len(d.Holder))
		}
		// Judging it never panics, whatever it claims.
		e := &leaseEntry{regEntry: &regEntry{seq: 1, mod: baseTime}, doc: d}
		_ = judgeLease("t", e, baseTime.Add(time.Hour), time.Minute)
		if d.Process != nil {
			_ = d.Process.dead()
		}
	})
}

func FuzzSnapshotRequest(f *testing.F) {
	_, _, _, _, req := metaSeeds(f)
	f.Add(req)
	f.Add([]byte("token: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r SnapshotRequest
		fuzzcheck.Bounded(t, "parse request", metaBound(data), func() { r = parseSnapshotRequest(data) })
		_ = r
	})
}

// TestMetaDecodersOnStoredObjects runs the decoders through the store on
// hostile objects, as a reader meets them: errors name the object.
func TestMetaDecodersOnStoredObjects(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	if err := s.write(ctx, registerKey(manifestsKey("t"), 1), []byte("format: 2\ntopic: t\nseq: 1\nsnapshots: [{version: 1, partitions: 2000000}]\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadManifest(ctx, "t"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "t/manifest.d/0000000000000001") {
		t.Fatalf("manifest with 2,000,000 partitions: %v", err)
	}
	loc := Loc{Topic: "t", Version: 1}
	if err := s.write(ctx, registerKey(loc.headsKey(), 1), []byte("format: 2\ntopic: t\nversion: 1\nseq: 1\nsealed_parts: 100\nparts: [{epoch: ab, first: 1, last: 100}]\n")); err != nil {
		t.Fatal(err)
	}
	var err error
	n := fuzzcheck.HeapAllocated(func() { _, err = s.ReadIndex(ctx, loc) })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "100 sealed parts, of which 100 are not in storage") {
		t.Fatalf("head naming 100 missing parts: %v", err)
	}
	if n > fuzzcheck.Base {
		t.Fatalf("reading it allocated %s", fuzzcheck.MiB(n))
	}
}
