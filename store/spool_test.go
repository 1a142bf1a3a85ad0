package store

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestSpooledSegment writes the same records through spools of every
// shape (in memory, spilled when large, spilled and flushed early when the
// budget is exhausted, encrypted) and checks what storage holds: the same
// records, the same bytes as a streamed segment unless blocks were
// flushed early, and every byte of budget given back.
func TestSpooledSegment(t *testing.T) {
	rs := testRecords(true)
	want := writeSegment(t, CodecZstd, 4<<10, 5, rs, 0)
	cases := []struct {
		name      string
		opts      SpoolOptions
		encrypted bool
		spilled   int64
		sameBytes bool // as the streamed segment: no block was flushed early
	}{
		{"in memory", SpoolOptions{Memory: 64 << 20, SegmentMemory: 64 << 20}, false, 0, true},
		{"spilled when large", SpoolOptions{Memory: 64 << 20, SegmentMemory: 64 << 10}, false, 1, true},
		{"budget exhausted", SpoolOptions{Memory: 8 << 10}, false, 1, false},
		{"encrypted, budget exhausted", SpoolOptions{Memory: 8 << 10}, true, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			st := fileStore(t, "")
			if c.encrypted {
				st = encryptedFileStore(t)
			}
			c.opts.Dir = t.TempDir()
			sp, err := NewSpool(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			l, err := st.AcquireLease(ctx, "orders", "test", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release(ctx)
			loc := Loc{Topic: "orders", Version: 1}
			up, err := st.CreateSegment(ctx, l, loc, SegmentOptions{Partition: 3, Start: 5, Codec: CodecZstd, BlockSize: 4 << 10, Spool: sp})
			if err != nil {
				t.Fatal(err)
			}
			for i := range rs {
				if err := up.Append(&rs[i]); err != nil {
					t.Fatalf("append offset %d: %v", rs[i].Offset, err)
				}
			}
			if used := sp.Memory().InUse(); used == 0 {
				t.Error("an open segment holds no budget")
			}
			e, err := up.Commit()
			if err != nil {
				t.Fatal(err)
			}
			if used := sp.Memory().InUse(); used != 0 {
				t.Errorf("%d bytes of budget still taken after Commit", used)
			}
			if got := sp.Spilled(); got != c.spilled {
				t.Errorf("%d segments spilled, want %d", got, c.spilled)
			}
			if e.Records != int64(len(rs)) {
				t.Errorf("entry holds %d records, want %d", e.Records, len(rs))
			}
			if c.sameBytes {
				var got bytes.Buffer
				if err := st.CopySegment(ctx, loc, up.ID(), &got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.data) {
					t.Errorf("spooled segment (%d bytes) differs from the streamed one (%d bytes)", got.Len(), len(want.data))
				}
			}
			sr, err := st.OpenSegment(ctx, loc, up.ID(), e.StoredBytes)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, sr, 0)
			if len(got) != len(rs) {
				t.Fatalf("read %d records, want %d", len(got), len(rs))
			}
			for i := range rs {
				sameRecord(t, &got[i], &rs[i])
			}
			if files, _ := os.ReadDir(c.opts.Dir); len(files) != 0 {
				t.Errorf("spool directory holds %d files, want none", len(files))
			}
		})
	}
}

// TestSpooledSegmentLargeInMemory keeps a segment of hundreds of memory
// chunks in memory (the benchmark of a whole backup found chunk sizes
// overflowing past 50 chunks) and reads it back.
func TestSpooledSegmentLargeInMemory(t *testing.T) {
	ctx := context.Background()
	st := fileStore(t, "")
	sp, err := NewSpool(SpoolOptions{Dir: t.TempDir(), Memory: 64 << 20, SegmentMemory: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	l, err := st.AcquireLease(ctx, "orders", "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	loc := Loc{Topic: "orders", Version: 1}
	up, err := st.CreateSegment(ctx, l, loc, SegmentOptions{Codec: CodecNone, Spool: sp})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var rs []Record
	for off := int64(0); up.Size() < 20<<20; off++ {
		v := make([]byte, 64<<10)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		rs = append(rs, Record{Offset: off, Timestamp: baseTime, Value: v})
		if err := up.Append(&rs[len(rs)-1]); err != nil {
			t.Fatal(err)
		}
	}
	e, err := up.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if sp.Spilled() != 0 || sp.Memory().InUse() != 0 {
		t.Errorf("%d spilled, %d bytes of budget still taken; want 0 and 0", sp.Spilled(), sp.Memory().InUse())
	}
	sr, err := st.OpenSegment(ctx, loc, up.ID(), e.StoredBytes)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, sr, 0)
	if len(got) != len(rs) {
		t.Fatalf("read %d records, want %d", len(got), len(rs))
	}
	for i := range rs {
		sameRecord(t, &got[i], &rs[i])
	}
}

// TestSpooledSegmentAbandoned checks that an aborted segment and one
// whose lease ended before Commit leave no object and give their budget
// back.
func TestSpooledSegmentAbandoned(t *testing.T) {
	ctx := context.Background()
	st := fileStore(t, "")
	sp, err := NewSpool(SpoolOptions{Dir: t.TempDir(), Memory: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	loc := Loc{Topic: "orders", Version: 1}
	rs := testRecords(false)
	write := func(l *Lease) *SegmentUpload {
		t.Helper()
		up, err := st.CreateSegment(ctx, l, loc, SegmentOptions{Codec: CodecLZ4, Spool: sp})
		if err != nil {
			t.Fatal(err)
		}
		for i := range rs {
			if err := up.Append(&rs[i]); err != nil {
				t.Fatal(err)
			}
		}
		return up
	}
	l, err := st.AcquireLease(ctx, "orders", "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	write(l).Abort()
	up := write(l)
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Commit(); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("commit after the lease ended: %v, want ErrLeaseLost", err)
	}
	if used := sp.Memory().InUse(); used != 0 {
		t.Errorf("%d bytes of budget still taken", used)
	}
	segs, err := st.ListSegments(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 0 {
		t.Errorf("%d segment objects in storage, want none", len(segs))
	}
}

// TestSpoolRemovesStaleFiles checks that NewSpool removes the spill files
// of dead processes and leaves those of live ones.
func TestSpoolRemovesStaleFiles(t *testing.T) {
	dir := t.TempDir()
	dead := filepath.Join(dir, spoolPrefix+"999999999-1"+spoolSuffix) // above any pid_max
	live := filepath.Join(dir, spoolPrefix+strconv.Itoa(os.Getppid())+"-1"+spoolSuffix)
	other := filepath.Join(dir, "unrelated.spool")
	for _, f := range []string{dead, live, other} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewSpool(SpoolOptions{Dir: dir, Memory: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	for f, keep := range map[string]bool{dead: false, live: true, other: true} {
		if _, err := os.Stat(f); (err == nil) != keep {
			t.Errorf("%s: kept %v, want %v", filepath.Base(f), err == nil, keep)
		}
	}
	if _, err := NewSpool(SpoolOptions{Dir: filepath.Join(dir, "new", "spool"), Memory: 1 << 20}); err != nil {
		t.Errorf("a spool in a missing directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSpool(SpoolOptions{Dir: filepath.Join(dir, "file"), Memory: 1 << 20}); err == nil {
		t.Error("a spool in a regular file: no error")
	}
}

// TestBudget checks the byte semaphore: TryAcquire never waits, Acquire
// waits for releases and gives up with its context, Force goes past the
// limit and counts it.
func TestBudget(t *testing.T) {
	b := NewBudget(100)
	if !b.TryAcquire(60) || b.TryAcquire(50) {
		t.Fatal("TryAcquire: 60 then 50 of 100 should succeed then fail")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(ctx, 50); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire of unavailable bytes: %v, want the context's error", err)
	}
	got := make(chan int64)
	go func() {
		n, _ := b.Acquire(context.Background(), 1000) // more than the limit: the whole budget
		got <- n
	}()
	time.Sleep(10 * time.Millisecond)
	if b.TryAcquire(1) {
		t.Error("TryAcquire succeeded while Acquire waits")
	}
	b.Release(60)
	if n := <-got; n != 100 {
		t.Errorf("Acquire of 1000 took %d, want the whole budget of 100", n)
	}
	b.Force(10)
	if b.InUse() != 110 || b.Over() != 10 || b.Peak() != 110 {
		t.Errorf("after Force: in use %d, over %d, peak %d; want 110, 10, 110", b.InUse(), b.Over(), b.Peak())
	}
	b.Release(110)
	if b.InUse() != 0 {
		t.Errorf("in use %d after releasing everything", b.InUse())
	}
}

// encryptedFileStore opens an encrypted store in a new directory.
func encryptedFileStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenWith(context.Background(), t.TempDir(), Options{EncryptionKey: newKeyURL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
