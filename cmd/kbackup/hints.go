package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kbackup/kbackup/engine/backup"
	"github.com/kbackup/kbackup/engine/restore"
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

// checkFlags name the kbackup restore flag that sets the spec field of
// each restore check: the engine's messages name spec fields (the mount
// and WebDAV show them as they are), the command line adds its flags.
var checkFlags = []struct {
	err  *restore.CheckError
	flag string
}{
	{restore.ErrNoTopics, "--topic SOURCE[:TARGET]"},
	{restore.ErrEarlierIncarnation, "--snapshot"},
	{restore.ErrTargetMissing, "--create-topics"},
	{restore.ErrTargetNotEmpty, "--allow-nonempty"},
	{restore.ErrNothingSelected, "--allow-empty"},
	{restore.ErrRetention, "--retention"},
}

// withHint returns err with the hint of the first sentinel it wraps and the
// flags of the restore checks it wraps, or err itself; errors.Is still sees
// everything err wraps.
func withHint(err error) error {
	for _, h := range hints {
		if errors.Is(err, h.err) {
			err = fmt.Errorf("%w: %s", err, h.hint)
			break
		}
	}
	var flags []string
	for _, f := range checkFlags {
		if errors.Is(err, f.err) {
			flags = append(flags, fmt.Sprintf("%s is %s", f.err.Field, f.flag))
		}
	}
	if len(flags) > 0 {
		err = fmt.Errorf("%w (on the command line %s)", err, strings.Join(flags, ", "))
	}
	return err
}
