package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/kbackup/kbackup/engine/restore"
	"github.com/kbackup/kbackup/kafka"
)

// fileConfig is the YAML configuration file (docs/configuration.md). Every
// flag has a field; flags and environment variables override the file.
type fileConfig struct {
	Brokers   []string          `yaml:"brokers"`
	Storage   string            `yaml:"storage"`
	Kafka     kafkaFileConfig   `yaml:"kafka"`
	Backup    backupConfig      `yaml:"backup"`
	Metrics   metricsFileConfig `yaml:"metrics"`
	LogLevel  string            `yaml:"log_level"`
	LogFormat string            `yaml:"log_format"`

	// Encryption is the key of an encrypted backup (cmd_key.go).
	Encryption encryptionConfig `yaml:"encryption"`
}

type kafkaFileConfig struct {
	ClientID    string           `yaml:"client_id"`
	DialTimeout string           `yaml:"dial_timeout"`
	TLS         kafka.TLSConfig  `yaml:"tls"`
	SASL        kafka.SASLConfig `yaml:"sasl"`
}

type backupConfig struct {
	Topics       []string `yaml:"topics"`
	Exclude      []string `yaml:"exclude"`
	Once         bool     `yaml:"once"`
	Compression  string   `yaml:"compression"`
	SegmentBytes string   `yaml:"segment_bytes"`
	SegmentAge   string   `yaml:"segment_age"`
	LeaseTTL     string   `yaml:"lease_ttl"`
	Retention    string   `yaml:"retention"`
	// RetentionInterval and FlushTimeout are Go durations.
	RetentionInterval string `yaml:"retention_interval"`
	FlushTimeout      string `yaml:"flush_timeout"`
	// CompactInterval and CompactGrace are Go durations; an interval of
	// 0 turns the daemon's compaction off.
	CompactInterval string `yaml:"compact_interval"`
	CompactGrace    string `yaml:"compact_grace"`
	Discovery       string `yaml:"discovery_interval"`
	SnapshotEvery   string `yaml:"snapshot_every"`
	SummaryInterval string `yaml:"summary_interval"`
	// Groups, ExcludeGroups, GroupInterval and NoGroups select the
	// consumer groups whose committed offsets are captured.
	Groups        []string `yaml:"groups"`
	ExcludeGroups []string `yaml:"exclude_groups"`
	GroupInterval string   `yaml:"group_interval"`
	NoGroups      bool     `yaml:"no_groups"`
	// MaxMemory is a size (e.g. 512MiB); SpoolDir a directory
	// (cmd/kbackup/memory.go).
	MaxMemory string `yaml:"max_memory"`
	SpoolDir  string `yaml:"spool_dir"`
	// GroupID and GroupSessionTimeout: scale-out (docs/scale.md).
	GroupID             string `yaml:"group_id"`
	GroupSessionTimeout string `yaml:"group_session_timeout"`
}

// loadConfig reads the --config file, if any. Unknown keys are errors.
func loadConfig(c *cli.Context) (*fileConfig, error) {
	fc := &fileConfig{}
	path := c.String("config")
	if path == "" {
		return fc, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: config file: %w", errUsage, err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(fc); err != nil {
		if re := restore.ExplainUnknownFields(path, err, fc); re != err {
			return nil, fmt.Errorf("%w: config file %w", errUsage, re)
		}
		return nil, fmt.Errorf("%w: config file %s: %s", errUsage, path, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return fc, nil
}

// loadEnv reads what every Kafka-facing command needs first: the config
// file, the logger and the Kafka settings.
func loadEnv(c *cli.Context) (*fileConfig, *slog.Logger, *kafka.Config, error) {
	fc, err := loadConfig(c)
	if err != nil {
		return nil, nil, nil, err
	}
	log, err := newLogger(c, fc)
	if err != nil {
		return nil, nil, nil, err
	}
	kc, err := kafkaConfig(c, fc)
	if err != nil {
		return nil, nil, nil, err
	}
	return fc, log, kc, nil
}

// kafkaConfig merges --brokers (or KBACKUP_BROKERS) over the file.
func kafkaConfig(c *cli.Context, fc *fileConfig) (*kafka.Config, error) {
	kc := &kafka.Config{Brokers: fc.Brokers, ClientID: fc.Kafka.ClientID, TLS: fc.Kafka.TLS, SASL: fc.Kafka.SASL}
	if c.IsSet("brokers") {
		kc.Brokers = c.StringSlice("brokers")
	}
	if p := os.Getenv("KBACKUP_SASL_PASSWORD"); p != "" && kc.SASL.Password == "" {
		kc.SASL.Password = p
	}
	d, err := duration("kafka.dial_timeout", fc.Kafka.DialTimeout)
	if err != nil {
		return nil, err
	}
	if c.IsSet("dial-timeout") {
		d = c.Duration("dial-timeout")
	}
	kc.DialTimeout = d
	return kc, nil
}

// storageURL returns --storage (or KBACKUP_STORAGE) or the file's storage.
func storageURL(c *cli.Context, fc *fileConfig) string {
	if c.IsSet("storage") {
		return c.String("storage")
	}
	return fc.Storage
}

func duration(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q is not a duration: use e.g. 30s, 5m, 24h", name, s)
	}
	return d, nil
}

// parseSize parses "64MiB", "1GB", "1048576".
func parseSize(name, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(num, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("%s %q is not a size: use e.g. 64MiB or 1048576", name, s)
	}
	return n * mult, nil
}

// newLogger builds the slog logger on stderr.
func newLogger(c *cli.Context, fc *fileConfig) (*slog.Logger, error) {
	level, format := fc.LogLevel, fc.LogFormat
	if c.IsSet("log-level") || level == "" {
		level = c.String("log-level")
	}
	if c.IsSet("log-format") || format == "" {
		format = c.String("log-format")
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: log level %q: use debug, info, warn or error", errUsage, level)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(c.App.ErrWriter, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(c.App.ErrWriter, ho)), nil
	}
	return nil, fmt.Errorf("%w: log format %q: use text or json", errUsage, format)
}

// commonFlags are shared by every command that talks to storage and Kafka.
func storageFlag() cli.Flag {
	return &cli.StringFlag{Name: "storage", EnvVars: []string{"KBACKUP_STORAGE"}, Usage: "storage `URL` (file:///path, s3://, gs://, azblob://, mem://) or a local path"}
}

func brokersFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "brokers", EnvVars: []string{"KBACKUP_BROKERS"}, Usage: "Kafka bootstrap `HOST:PORT`[,…]"}
}

func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "YAML configuration `FILE` (docs/configuration.md)"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
		&cli.DurationFlag{Name: "dial-timeout", Value: 10 * time.Second, Usage: "how long to wait for the brokers to answer"},
	}
}
