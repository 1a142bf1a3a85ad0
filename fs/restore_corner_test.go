package fs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

// TestRestoreNames refuses names in restore/ that could forge status
// fields or are too long, and renders whatever a status holds as YAML.
func TestRestoreNames(t *testing.T) {
	b := newBackup(t)
	fr := &fakeRestorer{reqs: map[string]RestoreRequest{}}
	mp := mountStore(t, b.st, Options{Restorer: fr})
	for _, name := range []string{"forged\nphase: Done", "esc\x1b[2J", "tab\there", strings.Repeat("n", 250), "bad\xffutf8"} {
		err := os.Mkdir(filepath.Join(mp, "restore", name), 0o755)
		if err == nil || !strings.Contains(err.Error(), "invalid argument") {
			t.Errorf("mkdir %q: %v, want invalid argument", name, err)
		}
		f, err := os.Create(filepath.Join(mp, "restore", name+".yaml"))
		if err == nil {
			f.Close()
			t.Errorf("create %q succeeded", name)
		}
	}
	if err := os.Mkdir(filepath.Join(mp, "restore", strings.Repeat("n", 249)), 0o755); err != nil {
		t.Errorf("a 249-byte name: %v", err)
	}
	if got, _ := fr.List(context.Background()); len(got) != 0 {
		t.Fatalf("restores started: %q", got)
	}
}

// TestFlushDoesNotHoldTheCopy reads a copy's status while the Restorer is
// still starting it: the copy's lock is not held across Start.
func TestFlushDoesNotHoldTheCopy(t *testing.T) {
	b := newBackup(t)
	fr := &fakeRestorer{reqs: map[string]RestoreRequest{}, entered: make(chan string, 1), gate: make(chan struct{})}
	mp := mountStore(t, b.st, Options{Restorer: fr})
	cp := exec.Command("cp", "-r", mp+"/topics/orders/snapshots/v2", mp+"/restore/slow")
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		select {
		case <-fr.gate:
		default:
			close(fr.gate)
		}
		_ = cp.Wait()
	}()
	select {
	case <-fr.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the copy never started a restore")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	look := exec.CommandContext(ctx, "sh", "-c", "cat "+mp+"/restore/slow/status; ls "+mp+"/restore/slow | head -n 3")
	look.WaitDelay = time.Second // a cat stuck in the mount must not hang the test
	out, err := look.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "phase: Initializing") {
		t.Fatalf("status while the restore starts: %v: %s", err, out)
	}
	close(fr.gate)
	if err := cp.Wait(); err != nil {
		t.Fatalf("cp: %v", err)
	}
	if r := fr.req("slow"); r.Source.Version != 2 {
		t.Fatalf("request %+v", r)
	}
}

// TestFlushBoundsRechecks writes a file into restore/ with the name and
// size of many tree files read only in part: recognising it decodes at
// most maxRechecks of them.
func TestFlushBoundsRechecks(t *testing.T) {
	st, dir := openStore(t)
	b := &backup{st: st, dir: dir, recs: map[store.Loc]map[int32][]store.Record{}, segs: map[store.Loc]map[int32][]store.SegmentEntry{}}
	loc := store.Loc{Topic: "same", Version: 1}
	const parts = 12
	for p := int32(0); p < parts; p++ {
		b.addSegments(t, loc, p, genRecords(0, 0, 2000), 500) // equal sizes in every partition, each larger than a read-ahead of head -c 1
	}
	m := &store.Manifest{Topic: "same", Active: 1, Snapshots: []store.Snapshot{{Version: 1, TopicID: "id", Created: baseTime, Partitions: parts}}}
	writeManifest(t, st, m)
	fr := &fakeRestorer{reqs: map[string]RestoreRequest{}}
	mp := mountStore(t, st, Options{Restorer: fr})
	v1 := mp + "/topics/same/snapshots/v1"
	var size int64
	for p := 0; p < parts; p++ {
		f := fmt.Sprintf("%s/%d/records.jsonl", v1, p)
		sh(t, "head -c 1 "+f+" > /dev/null")
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		size = fi.Size()
	}
	blocks := func() int64 { return mountCounters(t, mp)["blocks_decoded"] }
	perFile := int64(len(b.segs[loc][0]) * 0)
	for _, e := range b.segs[loc][0] {
		sr, err := st.OpenSegment(context.Background(), loc, e.ULID, e.StoredBytes)
		if err != nil {
			t.Fatal(err)
		}
		perFile += int64(len(sr.Info.Blocks))
	}
	before := blocks()
	sh(t, fmt.Sprintf("mkdir %s/restore/X && head -c %d /dev/zero > %s/restore/X/records.jsonl", mp, size, mp))
	decoded := blocks() - before
	if decoded > maxRechecks*perFile {
		t.Fatalf("recognising one written file decoded %d blocks, more than %d files of %d blocks", decoded, maxRechecks, perFile)
	}
	if decoded == 0 {
		t.Fatal("nothing was rechecked: the test does not exercise the bound")
	}
}

// TestCopyLatestSymlink copies the latest symlink itself into restore/
// (cp -r without a trailing slash): it restores the snapshot latest
// points to; a symlink nobody read from the tree is Invalid, and its
// status says what to copy.
func TestCopyLatestSymlink(t *testing.T) {
	b := newBackup(t)
	fr := &fakeRestorer{reqs: map[string]RestoreRequest{}}
	mp := mountStore(t, b.st, Options{Restorer: fr})
	sh(t, "cp -r "+mp+"/topics/orders/latest "+mp+"/restore/x")
	if r := fr.req("x"); r.Source != (store.Loc{Topic: "orders", Version: 2}) || r.Target != "x" || r.Invalid != "" {
		t.Fatalf("cp -r latest restore/x: %+v", r)
	}
	sh(t, "cp -r "+mp+"/topics/orders/latest "+mp+"/restore/")
	if r := fr.req("latest"); r.Source.Version != 2 || r.Target != "orders" {
		t.Fatalf("cp -r latest restore/: %+v", r)
	}
	if got := sh(t, "ls "+mp+"/restore/x"); got != "status\n" {
		t.Fatalf("restore/x lists %q", got)
	}
	out, err := runErr("ln", "-s", "snapshots/v2", mp+"/restore/y")
	if err == nil || !strings.Contains(out, "Invalid argument") {
		t.Fatalf("ln -s into restore/: %v %s", err, out)
	}
	if r := fr.req("y"); !strings.Contains(r.Invalid, "latest/") || !strings.Contains(r.Invalid, "snapshots/vN") {
		t.Fatalf("ln -s: %+v", r)
	}
}
