package integration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/store/storetest"
)

// TestMemoryBound backs up many partitions, each with an open segment
// until the end (segments roll only at the end of the --once run), into
// S3, whose SDK holds an 8 MiB part buffer per upload: unbounded, that is
// 8 MiB per partition. The built binary runs with --max-memory; its peak
// resident set (VmHWM, which it logs at exit, and samples of it while it
// runs) must stay below the bound, and storage must hold every produced
// record exactly once. (The child's ru_maxrss would not do: the fork
// shares the test process's memory until exec, and counts it.)
//
// The normal run uses 400 partitions under 192 MiB; KBACKUP_SOAK=1 runs
// the 2,000 partitions under 512 MiB.
func TestMemoryBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		// Decoded in place in the fetch response: every batch is copied.
		{"uncompressed batches", kgo.NoCompression()},
		// Decompressed into a buffer per batch: records are not copied
		// (ownsBuffers), and each keeps only its own batch alive.
		{"compressed batches", kgo.Lz4Compression()},
	} {
		t.Run(tc.name, func(t *testing.T) { testMemoryBound(t, tc.codec) })
	}
}

func testMemoryBound(t *testing.T, codec kgo.CompressionCodec) {
	partitions, perPartition, bound := int32(400), 160, int64(192<<20)
	if soak() {
		partitions, perPartition, bound = 2000, 320, 512<<20
	}
	const valueLen = 1 << 10 // incompressible: what is held is what was produced
	url := storetest.S3URL(t, storetest.StartS3(t).Host, "")
	c := startCluster(t)
	const topic = "wide"
	createTopic(t, c.Addr(), topic, partitions, nil)
	want := produceRandom(t, c.Addr(), topic, partitions, perPartition, valueLen, codec)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "backup", "--once", "--brokers", c.Addr(), "--storage", url,
		"--max-memory", strconv.FormatInt(bound, 10), "--spool-dir", t.TempDir(), "--segment-age", "1h")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rss := sampleRSS(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("backup: %v: %s", err, errb.String())
	}
	sampled := <-rss
	m := regexp.MustCompile(`msg="peak memory" peak_rss=(\d+)`).FindStringSubmatch(errb.String())
	if m == nil {
		t.Fatalf("the backup logged no peak memory: %s", errb.String())
	}
	peak, _ := strconv.ParseInt(m[1], 10, 64)
	peak = max(peak, sampled["VmHWM"]<<20)
	data := int64(partitions) * int64(perPartition) * valueLen
	t.Logf("%d partitions, %d MiB of records in %v: peak RSS %d MiB under a bound of %d MiB (%d KiB per partition; sampled peaks in MiB %v); %s",
		partitions, data>>20, time.Since(start).Round(time.Millisecond), peak>>20, bound>>20, peak/int64(partitions)>>10, sampled, memoryUse(errb.String()))
	if peak >= bound {
		t.Errorf("peak RSS %d MiB is above the bound of %d MiB", peak>>20, bound>>20)
	}
	sameRecords(t, "stored records", want, storageRead(t, url, topic, 0))
}

// memoryUse returns the "memory use" line the backup logs at its end.
func memoryUse(logs string) string {
	return regexp.MustCompile(`msg="memory use" (.*)`).FindStringSubmatch(logs + "\n")[1:][0]
}

// produceRandom produces perPartition records of n random bytes to each
// partition in batches compressed with codec (uncompressed, the consumer
// decodes them in place, the hardest case for the bound), and returns
// them.
func produceRandom(t *testing.T, addr, topic string, partitions int32, perPartition, n int, codec kgo.CompressionCodec) map[int32][]rec {
	t.Helper()
	cl := client(t, addr, kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<16),
		kgo.ProducerBatchCompression(codec))
	rng := rand.New(rand.NewPCG(1, 2))
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	want := map[int32][]rec{}
	var batch []*kgo.Record
	for p := range partitions {
		for i := range perPartition {
			v := make([]byte, n)
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			key := fmt.Sprintf("%d-%d", p, i)
			batch = append(batch, &kgo.Record{Topic: topic, Partition: p, Key: []byte(key), Value: v, Timestamp: ts})
			ks, vs := key, string(v)
			want[p] = append(want[p], rec{Partition: p, Offset: int64(i), Timestamp: ts.UnixMilli(), Key: &ks, Value: &vs})
		}
		if len(batch) >= 8192 || p == partitions-1 {
			if err := cl.ProduceSync(context.Background(), batch...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return want
}

// sampleRSS samples the resident set of process pid by kind until it
// exits, and sends the peaks.
func sampleRSS(pid int) chan map[string]int64 {
	out := make(chan map[string]int64, 1)
	go func() {
		peak := map[string]int64{}
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				out <- peak
				return
			}
			for _, l := range strings.Split(string(b), "\n") {
				k, v, ok := strings.Cut(l, ":")
				if ok && strings.HasPrefix(k, "Rss") || k == "VmHWM" {
					n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					peak[k] = max(peak[k], n>>10)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return out
}

// TestSpillingDaemonSurvivesKill9 kills, at random moments, daemons whose
// segments spill to the spool (a 128 MiB bound keeps at most 1 MiB of a
// segment in memory): the spill files are gone with the process (they
// are unlinked when created, so the spool directory stays empty), and a
// last run resumes from storage, which then holds every record exactly
// once.
func TestSpillingDaemonSurvivesKill9(t *testing.T) {
	c := startCluster(t)
	const topic = "spill"
	createTopic(t, c.Addr(), topic, 12, nil)
	want := produceRandom(t, c.Addr(), topic, 12, 4096, 1<<10, kgo.NoCompression()) // 4 MiB per partition
	dir, spool := t.TempDir(), t.TempDir()
	args := []string{"backup", "--brokers", c.Addr(), "--storage", dir, "--max-memory", "128MiB", "--spool-dir", spool,
		"--segment-bytes", "3MiB", "--segment-age", "1h", "--discovery-interval", "300ms"}
	spilled := 0
	for i := range 4 {
		cmd, logs := startKbackup(t, args...)
		time.Sleep(time.Duration(500+rand.IntN(1500)) * time.Millisecond)
		spilled += openSpillFiles(cmd.Process.Pid, spool)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("run %d ended by itself before the kill (exit %d):\n%s", i, cmd.ProcessState.ExitCode(), logs)
		}
		if files, _ := os.ReadDir(spool); len(files) != 0 {
			t.Fatalf("run %d left %d files in the spool directory", i, len(files))
		}
	}
	if spilled == 0 {
		t.Fatal("no killed daemon had a spill file open: the test proves nothing")
	}
	if r := kbackup(t, append(args, "--once")...); r.code != 0 {
		t.Fatalf("final run exit %d: %s", r.code, r.stderr)
	}
	sameRecords(t, "stored records", want, storageRead(t, dir, topic, 0))
	t.Logf("%d spill files open across the killed daemons; every record stored once", spilled)
}

// openSpillFiles counts the unlinked files in spool that process pid has
// open.
func openSpillFiles(pid int, spool string) int {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, spool+"/") && strings.HasSuffix(target, "(deleted)") {
			n++
		}
	}
	return n
}
