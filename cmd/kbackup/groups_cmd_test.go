package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/store/crypt"
)

// TestBackupGroupFlags: the consumer-group flags and config keys select
// what backup --once captures, on plain and encrypted storage, and a bad
// pattern is a usage error.
func TestBackupGroupFlags(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := devCluster(t, ctx, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 1, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "g1", offs); err != nil {
		t.Fatal(err)
	}
	key := "base64key://" + base64.URLEncoding.EncodeToString(crypt.NewSalt())
	for _, tt := range []struct {
		name   string
		args   []string
		config string
		want   string // groups describe shows, "" for no capture
	}{
		{"default", nil, "", "g1"},
		{"encrypted", []string{"--encryption-key", key}, "", "g1"},
		{"selected", []string{"--group", "g[0-9]"}, "", "g1"},
		{"interval 0", []string{"--group-interval", "0"}, "", ""},
		{"no-groups", []string{"--no-groups"}, "", ""},
		{"excluded", []string{"--exclude-group", "g.*"}, "", ""},
		{"not selected", []string{"--group", "other"}, "", ""},
		{"config interval 0", nil, "backup:\n  group_interval: 0s\n", ""},
		{"config no_groups", nil, "backup:\n  no_groups: true\n", ""},
		{"config exclude", nil, "backup:\n  exclude_groups: [\"g1\"]\n", ""},
		{"flag over config", []string{"--group-interval", "1m"}, "backup:\n  group_interval: 0s\n", "g1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"backup", "--once", "--brokers", c.Addr(), "--storage", dir, "--log-level", "warn"}, tt.args...)
			if tt.config != "" {
				cfg := filepath.Join(t.TempDir(), "kbackup.yaml")
				if err := os.WriteFile(cfg, []byte(tt.config), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", cfg)
			}
			if code, _, stderr := runCtx(ctx, args...); code != 0 {
				t.Fatalf("backup: exit %d: %s", code, stderr)
			}
			desc := []string{"describe", "--storage", dir, "-o", "json"}
			if tt.name == "encrypted" {
				desc = append(desc, "--encryption-key", key)
			}
			code, out, stderr := runCtx(ctx, desc...)
			if code != 0 {
				t.Fatalf("describe: exit %d: %s", code, stderr)
			}
			var d describeOutput
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatal(err)
			}
			got := ""
			if g := d.Topics[0].Snapshots[0].Groups; g != nil {
				for _, gd := range g.Groups {
					got += gd.Group
				}
			}
			if got != tt.want {
				t.Fatalf("describe shows groups %q, want %q", got, tt.want)
			}
			if tt.name == "encrypted" {
				sealed(t, dir)
			}
		})
	}
	code, _, stderr := runCtx(ctx, "backup", "--once", "--brokers", c.Addr(), "--storage", t.TempDir(), "--group", "(")
	if code != exitUsage || !strings.Contains(stderr, `consumer group pattern "("`) {
		t.Fatalf("--group '(': exit %d, %q; want a usage error naming the pattern", code, stderr)
	}
}

// sealed fails when a capture under dir holds its group name in the clear.
func sealed(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(path)) != "groups" {
			return err
		}
		n++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "g1") || !strings.HasPrefix(string(b), "KBKOBJ01") {
			t.Errorf("%s is not sealed: %.80q", path, b)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("%d captures found (%v), want 1", n, err)
	}
}
