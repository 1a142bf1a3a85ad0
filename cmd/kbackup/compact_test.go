package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/backup"
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

// TestBackupCompactOptions: the daemon's compaction flags and config keys
// reach backup.Options, 0 turns compaction (or its grace) off rather than
// selecting the engine's default, and negative durations are refused.
func TestBackupCompactOptions(t *testing.T) {
	for _, tt := range []struct {
		name   string
		args   []string
		config backupConfig
		want   backup.Options // only the compaction fields
		err    string
	}{
		{name: "defaults", want: backup.Options{}},
		{name: "flags", args: []string{"--compact-interval", "5m", "--compact-grace", "30s"}, want: backup.Options{CompactInterval: 5 * time.Minute, CompactGrace: 30 * time.Second}},
		{name: "interval 0 turns it off", args: []string{"--compact-interval", "0"}, want: backup.Options{NoCompact: true}},
		{name: "grace 0 means none", args: []string{"--compact-grace", "0"}, want: backup.Options{CompactGrace: -1}},
		{name: "config", config: backupConfig{CompactInterval: "2h", CompactGrace: "0s"}, want: backup.Options{CompactInterval: 2 * time.Hour, CompactGrace: -1}},
		{name: "config interval 0", config: backupConfig{CompactInterval: "0s"}, want: backup.Options{NoCompact: true}},
		{name: "flag over config", args: []string{"--compact-interval", "1m"}, config: backupConfig{CompactInterval: "0s"}, want: backup.Options{CompactInterval: time.Minute}},
		{name: "negative", args: []string{"--compact-grace", "-1s"}, err: "--compact-grace"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := backupCommand()
			var got backup.Options
			var gotErr error
			cmd.Action = func(c *cli.Context) error {
				got, gotErr = backupOptions(c, &fileConfig{Backup: tt.config})
				return nil
			}
			app := &cli.App{Commands: []*cli.Command{cmd}}
			if err := app.Run(append([]string{"kbackup", "backup"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			if tt.err != "" {
				if gotErr == nil || !strings.Contains(gotErr.Error(), tt.err) {
					t.Fatalf("error %v, want one naming %s", gotErr, tt.err)
				}
				return
			}
			if gotErr != nil {
				t.Fatal(gotErr)
			}
			if got.CompactInterval != tt.want.CompactInterval || got.CompactGrace != tt.want.CompactGrace || got.NoCompact != tt.want.NoCompact {
				t.Fatalf("interval %s grace %s off %v, want %s %s %v", got.CompactInterval, got.CompactGrace, got.NoCompact,
					tt.want.CompactInterval, tt.want.CompactGrace, tt.want.NoCompact)
			}
		})
	}
}
