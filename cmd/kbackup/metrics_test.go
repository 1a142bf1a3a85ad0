package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// TestMetricsConfig: flags override the file, which overrides the
// command's default; an empty address turns metrics off; bad values are
// usage errors.
func TestMetricsConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "k.yaml")
	if err := os.WriteFile(file, []byte("metrics:\n  addr: \"127.0.0.1:9100\"\n  partition_labels: false\n  interval: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		def      string
		args     []string
		addr     string
		labels   bool
		interval time.Duration
		err      bool
	}{
		{"daemon default", ":9000", nil, ":9000", true, 15 * time.Second, false},
		{"once default", "", nil, "", true, 15 * time.Second, false},
		{"file", ":9000", []string{"--config", file}, "127.0.0.1:9100", false, time.Minute, false},
		{"flags over file", ":9000", []string{"--config", file, "--metrics-addr", "", "--metrics-partition-labels=true", "--metrics-interval", "5s"}, "", true, 5 * time.Second, false},
		{"zero interval", ":9000", []string{"--metrics-interval", "0s"}, "", false, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got metricsSettings
			var gotErr error
			app := &cli.App{Flags: append(metricsFlags(tc.def, true), logFlags()...), Action: func(c *cli.Context) error {
				fc, err := loadConfig(c)
				if err != nil {
					return err
				}
				got, gotErr = metricsConfig(c, fc, tc.def)
				return nil
			}}
			t.Setenv("KBACKUP_METRICS_ADDR", "")
			os.Unsetenv("KBACKUP_METRICS_ADDR")
			if err := app.Run(append([]string{"kbackup"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			if tc.err {
				if gotErr == nil {
					t.Fatalf("no error for %v", tc.args)
				}
				return
			}
			if gotErr != nil || got.addr != tc.addr || got.opts.PartitionLabels != tc.labels || got.interval != tc.interval {
				t.Fatalf("got %+v, %v; want addr %q labels %v interval %s", got, gotErr, tc.addr, tc.labels, tc.interval)
			}
		})
	}
}
