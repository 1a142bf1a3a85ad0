package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

var datasetTopics = []string{"alpha", "beta", "gamma"}

// produceDataset writes the foundation dataset with kcat: about 100,000
// records in 3 topics of 6 partitions — keys, null keys, tombstones, empty
// values, headers, 1 MiB values, gzip/lz4/zstd batches — plus a committed
// and an aborted transaction written by franz-go.
func produceDataset(t *testing.T, addr string) {
	t.Helper()
	needKcat(t)
	maxBytes := "8388608"
	for _, topic := range datasetTopics {
		createTopic(t, addr, topic, 6, map[string]*string{"max.message.bytes": &maxBytes})
		for ci, codec := range []string{"gzip", "lz4", "zstd"} {
			var b strings.Builder
			for i := 0; i < 11111; i++ {
				n := ci*11111 + i
				switch {
				case n%7 == 0:
					fmt.Fprintf(&b, "value without key %d\n", n) // null key
				case n%11 == 0:
					fmt.Fprintf(&b, "key-%d:\n", n) // tombstone (-Z) or empty value
				default:
					fmt.Fprintf(&b, "key-%d:{\"n\":%d,\"topic\":\"%s\",\"text\":\"héllo wörld ✓\"}\n", n, n, topic)
				}
			}
			args := []string{"-P", "-b", addr, "-t", topic, "-K:", "-z", codec, "-X", "linger.ms=50"}
			switch ci {
			case 0:
				args = append(args, "-Z", "-H", "source=kcat", "-H", "codec="+codec)
			case 1:
				args = append(args, "-Z")
			case 2:
				args = append(args, "-H", "empty=", "-H", "dup=1", "-H", "dup=2")
			}
			kcatProduce(t, args, b.String())
		}
	}
	// 1 MiB values, one per partition of gamma.
	big := strings.Repeat("0123456789abcdef", 1<<16)
	for p := 0; p < 6; p++ {
		kcatProduce(t, []string{"-P", "-b", addr, "-t", "gamma", "-p", fmt.Sprint(p), "-K:", "-z", "zstd",
			"-X", "message.max.bytes=8000000"}, fmt.Sprintf("big-%d:%s\n", p, big))
	}
	tx := client(t, addr, kgo.TransactionalID("dataset-txn"))
	ctx := context.Background()
	for _, commit := range []bool{true, false} {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			r := &kgo.Record{Topic: "alpha", Partition: int32(i % 6), Key: []byte(fmt.Sprintf("txn-%t-%d", commit, i)), Value: []byte("transactional")}
			if err := tx.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
}

func kcatProduce(t *testing.T, args []string, input string) {
	t.Helper()
	cmd := exec.Command("kcat", args...)
	cmd.Stdin = strings.NewReader(input)
	if out, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(out), "failed") {
		t.Fatalf("kcat %v: %v\n%s", args, err, out)
	}
}

// TestBackupOnceMatchesKcat is the foundation's acceptance 2: storage holds
// exactly what kcat reads, record by record, for every codec.
func TestBackupOnceMatchesKcat(t *testing.T) {
	c := startCluster(t)
	produceDataset(t, c.Addr())
	want := map[string]map[int32][]rec{}
	total := 0
	for _, topic := range datasetTopics {
		want[topic] = kcatRead(t, c.Addr(), topic)
		for _, rs := range want[topic] {
			total += len(rs)
		}
	}
	if total < 100000 {
		t.Fatalf("dataset has %d records, want at least 100000", total)
	}
	for _, codec := range []string{"zstd", "lz4", "snappy", "gzip", "none"} {
		t.Run(codec, func(t *testing.T) {
			dir := t.TempDir()
			r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--compression", codec, "-o", "json", "--segment-bytes", "4MiB")
			if r.code != 0 {
				t.Fatalf("backup exit %d: %s", r.code, r.stderr)
			}
			var sum struct{ Records int64 }
			if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
				t.Fatalf("summary %q: %v", r.stdout, err)
			}
			if sum.Records != int64(total) {
				t.Errorf("summary says %d records, kcat read %d", sum.Records, total)
			}
			for _, topic := range datasetTopics {
				sameRecords(t, topic, want[topic], storageRead(t, dir, topic, 0))
			}
			// A second run is incremental: nothing new, nothing duplicated.
			r = kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--compression", codec, "-o", "json")
			sum.Records = -1
			if err := json.Unmarshal([]byte(r.stdout), &sum); r.code != 0 || err != nil || sum.Records != 0 {
				t.Fatalf("second run (exit %d) stored %d records again: %s", r.code, sum.Records, r.stderr)
			}
			for _, topic := range datasetTopics {
				sameRecords(t, topic+" after second run", want[topic], storageRead(t, dir, topic, 0))
			}
		})
	}
}
