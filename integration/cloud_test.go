package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/store/storetest"
)

// The mount and restore on every cloud backend (issue 6): the binary backs a
// small topic up into the emulator (under a prefix), restores it into a new
// topic and mounts the storage. The emulators are started by package
// storetest; KBACKUP_REQUIRE_EMULATORS=1 turns a missing one into a failure.

func TestCloudS3(t *testing.T)    { cloudRoundTrip(t, "S3") }
func TestCloudGCS(t *testing.T)   { cloudRoundTrip(t, "GCS") }
func TestCloudAzure(t *testing.T) { cloudRoundTrip(t, "Azure") }

func cloudRoundTrip(t *testing.T, backend string) {
	needKcat(t)
	var emu storetest.Emulator
	for _, e := range storetest.Emulators {
		if e.Name == backend {
			emu = e
		}
	}
	url := emu.URL(t, emu.Start(t), "&prefix=backups/")
	c := startCluster(t)
	const topic = "cloud"
	createTopic(t, c.Addr(), topic, 3, nil)
	produceVaried(t, c.Addr(), topic, 3, 300)
	want := kcatRead(t, c.Addr(), topic)

	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", url); r.code != 0 {
		t.Fatalf("backup to %s: exit %d: %s", backend, r.code, r.stderr)
	}
	if r := kbackup(t, "restore", "--brokers", c.Addr(), "--storage", url, "--topic", topic+":restored", "--create-topics", "--retention", "extend"); r.code != 0 {
		t.Fatalf("restore from %s: exit %d: %s", backend, r.code, r.stderr)
	}
	sameRecords(t, "restored topic", want, kcatRead(t, c.Addr(), "restored"))

	mp := mountKbackup(t, url)
	got := map[int32][]rec{}
	for p := range int32(3) {
		got[p] = mountedRecords(t, filepath.Join(mp, "topics", topic, "latest", fmt.Sprint(p), "records.jsonl"), p)
	}
	sameRecords(t, "mounted records.jsonl", want, got)
}

// produceVaried produces n records round-robin over the partitions: null
// keys, tombstones, empty values, headers and non-ASCII text, with fixed
// timestamps.
func produceVaried(t *testing.T, addr, topic string, partitions int32, n int) {
	t.Helper()
	produceVariedFrom(t, addr, topic, partitions, 0, n)
}

// produceVariedFrom produces records from, from+1, … from+n-1 of the
// sequence produceVaried starts.
func produceVariedFrom(t *testing.T, addr, topic string, partitions int32, from, n int) {
	t.Helper()
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var rs []*kgo.Record
	for i := from; i < from+n; i++ {
		r := &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Timestamp: base.Add(time.Duration(i) * time.Second),
			Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte(fmt.Sprintf(`{"n":%d,"text":"héllo ✓"}`, i))}
		switch {
		case i%7 == 0:
			r.Key = nil
		case i%11 == 0:
			r.Value = nil
		case i%13 == 0:
			r.Value = []byte{}
		}
		if i%3 == 0 {
			r.Headers = []kgo.RecordHeader{{Key: "source", Value: []byte("test")}, {Key: "n", Value: []byte(fmt.Sprint(i))}}
		}
		rs = append(rs, r)
	}
	if err := client(t, addr).ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// mountedRecords parses a records.jsonl file of partition p (every key,
// value and header value must be text, as produceVaried writes them).
func mountedRecords(t *testing.T, path string, p int32) []rec {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []rec
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l struct {
			Offset    int64     `json:"offset"`
			Timestamp time.Time `json:"timestamp"`
			Key       *string   `json:"key"`
			Value     *string   `json:"value"`
			KeyEnc    string    `json:"key_encoding"`
			ValueEnc  string    `json:"value_encoding"`
			Headers   []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"headers"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.KeyEnc != "" || l.ValueEnc != "" {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		var hs []string
		for _, h := range l.Headers {
			hs = append(hs, h.Key+"="+h.Value)
		}
		out = append(out, rec{Partition: p, Offset: l.Offset, Timestamp: l.Timestamp.UnixMilli(), Key: l.Key, Value: l.Value, Headers: strings.Join(hs, ",")})
	}
	return out
}
