package main

import (
	"errors"
	"fmt"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// hints name the flags and environment variables that fix an error. The
// libraries return sentinel errors and know nothing of the command line;
// the hint is added here, once, for every command.
var hints = []struct {
	err  error
	hint string
}{
	{store.ErrNoStorage, "pass --storage URL (file:///path, s3://bucket, gs://bucket, azblob://container, mem://) or set KBACKUP_STORAGE"},
	{kafka.ErrNoBrokers, "pass --brokers HOST:PORT or set KBACKUP_BROKERS"},
	{kafka.ErrRefused, "check --brokers and that Kafka runs"},
	{kafka.ErrTimeout, "check --brokers, the TLS and SASL settings and the network (--dial-timeout to wait longer)"},
	{kafka.ErrTLS, "check kafka.tls in the config file"},
	{kafka.ErrAuth, "check kafka.sasl (mechanism, username, password) in the config file"},
	{kafka.ErrUnreachable, "check --brokers, the TLS and SASL settings and the network"},
	{kafka.ErrGroupRefused, "the group is named by --group-id, its session timeout by --group-session-timeout"},
	{backup.ErrBadPattern, "include patterns are given with --topic, exclude patterns with --exclude"},
}

// withHint returns err with the hint of the first sentinel it wraps, or err
// itself; errors.Is still sees everything err wraps.
func withHint(err error) error {
	for _, h := range hints {
		if errors.Is(err, h.err) {
			return fmt.Errorf("%w: %s", err, h.hint)
		}
	}
	return err
}
