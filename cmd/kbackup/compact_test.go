package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
	fixture "github.com/kbackup/kbackup/store/storetest"
)

func TestIndexCompactCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t.Setenv("KBACKUP_STORAGE", dir)
	l, err := st.AcquireLease(ctx, "small", "fixture", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var segs []fixture.Segment
	for i := 0; i < 20; i++ {
		segs = append(segs, fixture.Segment{Start: int64(i * 10), First: int64(i * 10), N: 10})
	}
	if err := fixture.WriteSnapshot(ctx, st, l, store.Loc{Topic: "small"}, segs); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := run(t, "index", "compact", "--grace", "0", "small")
	if code != exitOK || out != "Compacted small/v0: 20 segments -> 1 (1 merged segments written, 20 objects deleted)\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
	if _, errOut, code := run(t, "verify", "small"); code != exitOK {
		t.Fatalf("verify after compact: exit %d: %s", code, errOut)
	}
	if _, errOut, code := run(t, "index", "compact", "--grace", "-1s", "small"); code == exitOK || !strings.Contains(errOut, "--grace") {
		t.Fatalf("negative grace: exit %d: %s", code, errOut)
	}
	held, err := st.AcquireLease(ctx, "small", "running backup", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(ctx)
	if _, errOut, code := run(t, "index", "compact", "small"); code != exitLeaseHeld {
		t.Fatalf("compact beside a running backup: exit %d: %s", code, errOut)
	}
}
