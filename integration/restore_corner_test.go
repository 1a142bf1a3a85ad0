package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRestoreRaceMountAndCLI starts three restores into one target at
// once — cp -r of v1 and of v1/0 into the mount's restore/, and the CLI
// beside the mount — after the source topic was deleted. One restores,
// the others are refused; a rerun completes the target, and kcat finds
// every record exactly once.
func TestRestoreRaceMountAndCLI(t *testing.T) {
	needKcat(t)
	c := startCluster(t)
	small := "16384" // many small batches: the restores overlap
	createTopic(t, c.Addr(), "lost", 2, map[string]*string{"max.message.bytes": &small})
	cl := client(t, c.Addr(), kgo.ProducerBatchMaxBytes(16000))
	var recs []*kgo.Record
	for i := range 20000 {
		recs = append(recs, &kgo.Record{Topic: "lost", Partition: int32(i % 2), Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprintf("value %d %050d", i, i))})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want := kcatRead(t, c.Addr(), "lost")
	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir); r.code != 0 {
		t.Fatalf("backup: %s", r.stderr)
	}
	if _, err := kadm.NewClient(cl).DeleteTopic(context.Background(), "lost"); err != nil {
		t.Fatal(err)
	}
	mp := mountKbackup(t, dir, "--brokers", c.Addr())
	k := c.Kfake()
	k.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		k.KeepControl()
		time.Sleep(5 * time.Millisecond)
		return nil, nil, false
	})
	v1 := mp + "/topics/lost/snapshots/v1"
	cli := []string{"restore", "--brokers", c.Addr(), "--storage", dir, "--topic", "lost", "--create-topics"}
	var wg sync.WaitGroup
	outs := make([]string, 3)
	for i, script := range []string{
		"cp -r " + v1 + " " + mp + "/restore/",
		"cp -r " + v1 + "/0 " + mp + "/restore/",
		binary + " " + strings.Join(cli, " "),
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := shellErr(script)
			outs[i] = fmt.Sprintf("%s: %v: %s", script, err, out)
		}()
	}
	wg.Wait()
	refused := 0
	for _, o := range outs {
		t.Log(o)
		if strings.Contains(o, "Input/output error") || strings.Contains(o, "another restore into it is running") {
			refused++
		}
	}
	for _, name := range []string{"v1", "0"} {
		st, _ := os.ReadFile(filepath.Join(mp, "restore", name, "status"))
		if strings.Contains(string(st), "phase: Failed") && !strings.Contains(string(st), "another restore into it is running") {
			t.Errorf("restore/%s failed otherwise:\n%s", name, st)
		}
	}
	if refused == 0 {
		t.Log("no restore overlapped another: the runs were serialised by timing alone")
	}
	k.DropControl()
	for _, name := range []string{"v1", "0"} {
		waitTerminal(t, mp, name)
	}
	if r := kbackup(t, cli...); r.code != 0 {
		t.Fatalf("rerun: %s", r.stderr)
	}
	sameRecords(t, "lost after the race and a rerun", content(want), content(kcatRead(t, c.Addr(), "lost")))
}

// waitTerminal waits until restore/<name> is Done, Failed or Invalid.
func waitTerminal(t *testing.T, mp, name string) {
	t.Helper()
	waitFor(t, 60*time.Second, "restore/"+name+" to end", func() bool {
		b, _ := os.ReadFile(filepath.Join(mp, "restore", name, "status"))
		return bytes.Contains(b, []byte("\nfinished: "))
	})
}

// TestRestoreLargeRecordsFromKcat restores records kcat produced with
// compression: a 3 MiB compressible value the source accepted under the
// default 1 MiB max.message.bytes, incompressible ones just under it, and
// a 3 MiB incompressible one in a topic allowing 4 MiB.
func TestRestoreLargeRecordsFromKcat(t *testing.T) {
	needKcat(t)
	c := startCluster(t)
	four := "4194304"
	createTopic(t, c.Addr(), "big", 1, nil)
	createTopic(t, c.Addr(), "big4", 1, map[string]*string{"max.message.bytes": &four})
	printable := func(n int) string {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = ' ' + 1 + b[i]%94 // printable, no ':' issues: kcat splits on the first
		}
		return string(b)
	}
	lines := "small:first\n" +
		"zeros:" + strings.Repeat("0", 3<<20) + "\n" +
		"random:" + printable(700<<10) + "\n" +
		"text:" + strings.Repeat("kbackup restores every record. ", (3<<20)/31) + "\n" +
		"small:last\n"
	args := func(topic string) []string {
		// zstd: librdkafka sends a 3 MiB record uncompressed with gzip,
		// lz4 or snappy, and the broker refuses it.
		return []string{"-P", "-b", c.Addr(), "-t", topic, "-p", "0", "-K:", "-z", "zstd", "-X", "message.max.bytes=16000000", "-X", "linger.ms=0"}
	}
	kcatProduce(t, args("big"), lines)
	kcatProduce(t, args("big4"), "random:"+printable(3<<20)+"\nzeros:"+strings.Repeat("0", 3<<20)+"\n")
	want := map[string]map[int32][]rec{"big": kcatRead(t, c.Addr(), "big"), "big4": kcatRead(t, c.Addr(), "big4")}
	if len(want["big"][0]) != 5 || len(want["big4"][0]) != 2 {
		t.Fatalf("the source holds %d and %d records", len(want["big"][0]), len(want["big4"][0]))
	}
	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir); r.code != 0 {
		t.Fatalf("backup: %s", r.stderr)
	}
	for topic, w := range want {
		if r := kbackup(t, "restore", "--brokers", c.Addr(), "--storage", dir, "--topic", topic+":"+topic+"-copy", "--create-topics"); r.code != 0 {
			t.Fatalf("restore %s: exit %d: %s", topic, r.code, r.stderr)
		}
		sameRecords(t, topic+"-copy", content(w), content(kcatRead(t, c.Addr(), topic+"-copy")))
	}
}

// TestMountRestoreAccess mounts with --allow-other: uid 65534 reads but
// cannot restore, until --restore-users names it; a spec copied in may not
// disable preflight checks without --restore-allow-no-preflight.
func TestMountRestoreAccess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the access test acts as uid 65534 and needs root (make test runs as root)")
	}
	c := startCluster(t)
	createTopic(t, c.Addr(), "t", 1, nil)
	if err := client(t, c.Addr()).ProduceSync(context.Background(), &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", dir); r.code != 0 {
		t.Fatalf("backup: %s", r.stderr)
	}
	open, err := os.MkdirTemp("", "kbackup-mnt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(open) })
	os.Chmod(open, 0o755)
	spec := filepath.Join(open, "nochecks.yaml")
	os.WriteFile(spec, []byte("config: {createTopics: true, topics: [{source: t, target: t2, disablePreflightChecks: true}]}\n"), 0o644)
	asNobody := func(script string) (string, error) {
		cmd := exec.Command("sh", "-c", script)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct {
		flags   []string
		granted bool
	}{{nil, false}, {[]string{"--restore-users", "65534"}, true}} {
		mp := filepath.Join(open, fmt.Sprint("mnt", tc.granted))
		os.Mkdir(mp, 0o755)
		mountKbackupAt(t, mp, dir, append([]string{"--brokers", c.Addr(), "--allow-other"}, tc.flags...)...)
		if out, err := asNobody("ls " + mp + "/topics/t/latest/0"); err != nil {
			t.Fatalf("uid 65534 cannot read: %s", out)
		}
		out, err := asNobody("cp -r " + mp + "/topics/t/snapshots/v1 " + mp + "/restore/copy")
		if granted := err == nil; granted != tc.granted {
			t.Fatalf("flags %v: uid 65534 cp -r: %v: %s", tc.flags, err, out)
		}
		if !tc.granted && !strings.Contains(out, "Permission denied") {
			t.Fatalf("refusal says %q", out)
		}
		if tc.granted {
			waitPhase(t, mp, "copy", "Done", 30*time.Second)
			out, err := asNobody("cp " + spec + " " + mp + "/restore/")
			if err == nil {
				t.Fatalf("a spec disabling preflight checks was accepted: %s", out)
			}
			st := waitPhase(t, mp, "nochecks", "Invalid", 5*time.Second)
			if !strings.Contains(st, "--restore-allow-no-preflight") {
				t.Fatalf("status of the refused spec:\n%s", st)
			}
		}
	}
}
