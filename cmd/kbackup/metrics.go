package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/metrics"
)

// metricsFileConfig is the `metrics:` section of the configuration file.
type metricsFileConfig struct {
	// Addr is a pointer so that an empty string can turn metrics off.
	Addr            *string `yaml:"addr"`
	PartitionLabels *bool   `yaml:"partition_labels"`
	Interval        string  `yaml:"interval"`
}

// metricsFlags are the flags of the commands that serve metrics. def is
// the address served when neither flag nor file names one ("" = off).
func metricsFlags(def string, interval bool) []cli.Flag {
	usage := "serve /metrics, /healthz and /readyz on `HOST:PORT` ('' turns it off)"
	if def != "" {
		usage += fmt.Sprintf(" (default %q; --once: off)", def)
	} else {
		usage += " (default: off)"
	}
	fs := []cli.Flag{
		&cli.StringFlag{Name: "metrics-addr", EnvVars: []string{"KBACKUP_METRICS_ADDR"}, Usage: usage},
		&cli.BoolFlag{Name: "metrics-partition-labels", Value: true, Usage: "label per-partition metrics with their partition; false sums them per topic (clusters with very many partitions)"},
	}
	if interval {
		fs = append(fs, &cli.DurationFlag{Name: "metrics-interval", Usage: "how often consumer lag and RPO are measured against Kafka", DefaultText: "15s"})
	}
	return fs
}

// metricsSettings are the merged metrics flags and file settings.
type metricsSettings struct {
	addr     string
	opts     metrics.Options
	interval time.Duration
}

// metricsConfig merges the metrics flags over the file; def is the address
// served when neither names one.
func metricsConfig(c *cli.Context, fc *fileConfig, def string) (metricsSettings, error) {
	mc := fc.Metrics
	s := metricsSettings{addr: def, opts: metrics.Options{PartitionLabels: true}, interval: 15 * time.Second}
	if mc.Addr != nil {
		s.addr = *mc.Addr
	}
	if c.IsSet("metrics-addr") {
		s.addr = c.String("metrics-addr")
	}
	if mc.PartitionLabels != nil {
		s.opts.PartitionLabels = *mc.PartitionLabels
	}
	if c.IsSet("metrics-partition-labels") {
		s.opts.PartitionLabels = c.Bool("metrics-partition-labels")
	}
	d, err := duration("metrics.interval", mc.Interval)
	if err != nil {
		return s, fmt.Errorf("%w: %v", errUsage, err)
	}
	if d > 0 {
		s.interval = d
	}
	if c.IsSet("metrics-interval") {
		if s.interval = c.Duration("metrics-interval"); s.interval <= 0 {
			return s, fmt.Errorf("%w: --metrics-interval must be above zero, e.g. 15s", errUsage)
		}
	}
	return s, nil
}

// serveMetrics serves h on addr until the returned stop is called. With
// an empty addr it serves nothing.
func serveMetrics(log *slog.Logger, addr string, h http.Handler) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	l, err := metrics.Listen(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	log.Debug("serving metrics and health", "addr", l.Addr().String(), "paths", "/metrics /healthz /readyz")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := metrics.Serve(ctx, l, h); err != nil {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}
