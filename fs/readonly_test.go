package fs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

func TestReadOnly(t *testing.T) {
	b := newBackup(t)
	mp := mountStore(t, b.st, Options{})
	v2 := filepath.Join(mp, "topics/orders/snapshots/v2")
	rec := v2 + "/0/records.jsonl"
	seg := v2 + "/0/segments/" + segmentName(&b.segs[store.Loc{Topic: "orders", Version: 2}][0][0])

	scripts := []string{
		"echo x > " + rec,
		"echo x >> " + seg,
		"touch " + v2 + "/new",
		"touch " + rec,
		"rm " + rec,
		"rm -r " + v2 + "/0",
		"mkdir " + v2 + "/9",
		"chmod 777 " + rec,
		"truncate -s 0 " + seg,
		"mv " + rec + " " + v2 + "/0/x",
		"ln -s a " + v2 + "/link",
		"touch " + mp + "/restore/x",
		"mkdir " + mp + "/restore/orders",
		"echo x > " + mp + "/restore/README",
		"touch " + mp + "/topics/newtopic",
	}
	for _, s := range scripts {
		out, err := runErr("sh", "-c", s)
		if err == nil || !strings.Contains(out, "Read-only file system") {
			t.Errorf("%s: err %v, output %q; want a read-only file system error", s, err, out)
		}
	}
	for _, p := range []string{rec, seg, v2 + "/index", mp + "/topics/orders/manifest"} {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("open %s for writing: %v, want EROFS", p, err)
		}
		if f != nil {
			f.Close()
		}
	}
}

func TestExpiredSegmentIsEIO(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	loc := store.Loc{Topic: "old"}
	recs := genRecords(0, 0, 300) // the kept part spans many pages
	gone := writeSegment(t, st, loc, 0, recs[:10], 600, store.CodecZstd)
	past := time.Now().Add(-time.Hour)
	gone.Expires = &past
	kept := writeSegment(t, st, loc, 0, recs[10:], 600, store.CodecZstd)
	appendIndex(t, st, loc, gone, kept)
	l := lease(t, st, loc.Topic)
	if err := st.DeleteSegment(ctx, l, loc, gone.ULID); err != nil {
		t.Fatal(err)
	}
	l.Release(ctx)
	logs := &syncWriter{w: new(bytes.Buffer)}
	mp := mountStore(t, st, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	dir := mp + "/topics/old/snapshots/v0/0"

	out, err := runErr("cat", dir+"/records.jsonl")
	if err == nil || !strings.Contains(out, "Input/output error") {
		t.Errorf("cat over an expired segment: err %v, output %.200q; want EIO", err, out)
	}
	if l := logs.String(); !strings.Contains(l, "expired and was deleted by retention") {
		t.Errorf("no log line for the expired segment: %q", l)
	}
	if got := run(t, "cat", dir+"/segments/"+segmentName(&kept)); got != string(jsonLines(recs[10:])) {
		t.Errorf("segment after the expired one differs")
	}
	if got := run(t, "tail", "-c", "50", dir+"/records.jsonl"); got != string(jsonLines(recs))[len(jsonLines(recs))-50:] {
		t.Errorf("tail of records.jsonl after the expired segment: %q", got)
	}
}

func TestMountpointRefused(t *testing.T) {
	requireFUSE(t)
	st, dir := openStore(t)
	nonEmpty := t.TempDir()
	if err := os.WriteFile(nonEmpty+"/f", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	file := nonEmpty + "/f"
	inside := filepath.Join(dir, "mnt")
	if err := os.Mkdir(inside, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, mp string
		want     error
		msg      string
	}{
		{"not empty", nonEmpty, ErrMountpoint, "not empty"},
		{"file", file, ErrMountpoint, "not a directory"},
		{"missing", nonEmpty + "/nope", ErrMountpoint, "no such file"},
		{"inside storage", inside, ErrMountInStorage, "inside the storage directory"},
		{"storage itself", dir, ErrMountpoint, "not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := Mount(context.Background(), st, tt.mp, Options{})
			if err == nil {
				srv.Unmount()
				t.Fatalf("mount on %s succeeded", tt.mp)
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
		})
	}
	// A busy mountpoint (already mounted) is refused too.
	mp := mountStore(t, st, Options{})
	if _, err := Mount(context.Background(), st, mp, Options{}); !errors.Is(err, ErrMountpoint) {
		t.Errorf("second mount on %s: %v, want ErrMountpoint", mp, err)
	}
}

// syncWriter serialises writes from concurrent FUSE requests.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
