package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kbackup/kbackup/integration/benchtab"
	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store/crypt"
)

// BenchmarkEncryption measures what client-side encryption costs a whole
// backup and a whole restore (issue 15): the built binary backs up the
// same topic with zstd into file storage plain and with --encryption-key
// (base64key://), and restores a plain and an encrypted backup of it into
// a new topic. The four contenders warm up once and alternate (benchtab),
// so plain and encrypted see the same machine load; each backup writes a
// fresh directory removed after it, each restore a new topic checked and
// deleted after it. Throughput is MB/s of keys and values; the figures are
// encrypted over plain, whose goal is issue 15's 0.85.
//
//	make bench BENCH=Encryption
func BenchmarkEncryption(b *testing.B) {
	c, err := devcluster.Start(devcluster.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const partitions = 6
	createTopic(b, c.Addr(), "bench", partitions, nil)
	records, payload, _ := benchTopic(b, c.Addr(), "bench", 100<<20)
	key := "base64key://" + base64.URLEncoding.EncodeToString(crypt.NewSalt())
	work := b.TempDir()
	keyArgs := map[bool][]string{false: nil, true: {"--encryption-key", key}}
	name := map[bool]string{false: "plain", true: "encrypted"}

	// kb runs the binary and returns its combined output.
	kb := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("kbackup %s: %w: %s", args[0], err, out.String())
		}
		return out.String(), err
	}
	backup := func(enc bool) benchtab.Contender {
		return benchtab.Contender{
			Name:     "kbackup backup --once, " + name[enc],
			Settings: "zstd, defaults; file storage on the same disk",
			Run: func(m *benchtab.Measure) error {
				dir := filepath.Join(work, "backup-"+name[enc])
				defer func() { os.RemoveAll(dir); flush() }()
				var out string
				err := m.MBps("MB/s", payload, func() (err error) {
					out, err = kb(append([]string{"backup", "--once", "--brokers", c.Addr(), "--storage", dir}, keyArgs[enc]...)...)
					return err
				})
				if err != nil {
					return err
				}
				if want := fmt.Sprintf("%d records, ", records); !strings.Contains(out, want) {
					return fmt.Errorf("summary does not say %q:\n%s", want, out)
				}
				return nil
			},
		}
	}

	adm := kadm.NewClient(client(b, c.Addr()))
	ctx := context.Background()
	storage := map[bool]string{}
	for _, enc := range []bool{false, true} {
		storage[enc] = filepath.Join(work, "source-"+name[enc])
		if _, err := kb(append([]string{"backup", "--once", "--brokers", c.Addr(), "--storage", storage[enc]}, keyArgs[enc]...)...); err != nil {
			b.Fatal(err)
		}
	}
	seq := 0
	restore := func(enc bool) benchtab.Contender {
		return benchtab.Contender{
			Name:     "kbackup restore, " + name[enc],
			Settings: "defaults (creates the topic, lz4 batches, linger 5 ms, acks all); file storage",
			Run: func(m *benchtab.Measure) error {
				seq++
				dst := fmt.Sprintf("restored-%s-%d", name[enc], seq)
				err := m.MBps("MB/s", payload, func() error {
					_, err := kb(append([]string{"restore", "--brokers", c.Addr(), "--storage", storage[enc], "--topic", "bench:" + dst, "--create-topics"}, keyArgs[enc]...)...)
					return err
				})
				if err != nil {
					return err
				}
				ends, err := adm.ListEndOffsets(ctx, dst)
				if err != nil {
					return err
				}
				var n int64
				ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
				if n != int64(records) {
					return fmt.Errorf("%s holds %d records, want %d", dst, n, records)
				}
				_, err = adm.DeleteTopics(ctx, dst)
				flush()
				return err
			},
		}
	}
	bPlain, bEnc, rPlain, rEnc := backup(false), backup(true), restore(false), restore(true)
	res := benchtab.Run(b, benchtab.Options{}, bPlain, bEnc, rPlain, rEnc)

	note := fmt.Sprintf("%.0f MB of JSON records, %d partitions, kfake with a data directory, AES-256-GCM (base64key://)", float64(payload)/1e6, partitions)
	plain := res.Side(bPlain.Name, "MB/s")
	res.Figure(benchtab.Figure{ID: "backup-encrypted-vs-plain", Name: "backup --once, zstd, encrypted vs plain", Unit: "MB/s",
		Kbackup: res.Side(bEnc.Name, "MB/s"), Peer: &plain, Goal: benchtab.AtLeast(0.85, "issue 15"), Note: note})
	plain = res.Side(rPlain.Name, "MB/s")
	res.Figure(benchtab.Figure{ID: "restore-encrypted-vs-plain", Name: "restore, encrypted vs plain", Unit: "MB/s",
		Kbackup: res.Side(rEnc.Name, "MB/s"), Peer: &plain, Goal: benchtab.AtLeast(0.85, "issue 15"), Note: note})
}
