// Package kafka sets up franz-go clients for kbackup: brokers, TLS, SASL,
// and the few admin calls the engine needs (topics with their IDs and
// configs, offsets).
package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config is how to reach a cluster. Secrets are read from files or the
// config file, never from flags.
type Config struct {
	Brokers     []string      `yaml:"brokers"`
	ClientID    string        `yaml:"client_id"`
	DialTimeout time.Duration `yaml:"-"`
	TLS         TLSConfig     `yaml:"tls"`
	SASL        SASLConfig    `yaml:"sasl"`
}

// TLSConfig enables TLS to the brokers.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASLConfig enables SASL authentication.
type SASLConfig struct {
	Mechanism    string `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// Opts turns the config into franz-go client options.
func (c *Config) Opts() ([]kgo.Opt, error) {
	var brokers []string
	for _, b := range c.Brokers {
		for _, s := range strings.Split(b, ",") {
			if s = strings.TrimSpace(s); s != "" {
				if _, _, err := net.SplitHostPort(s); err != nil {
					return nil, fmt.Errorf("broker %q is not HOST:PORT", s)
				}
				brokers = append(brokers, s)
			}
		}
	}
	if len(brokers) == 0 {
		return nil, ErrNoBrokers
	}
	dial := c.DialTimeout
	if dial <= 0 {
		dial = 10 * time.Second
	}
	id := c.ClientID
	if id == "" {
		id = "kbackup"
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ClientID(id), kgo.DialTimeout(dial)}
	if c.TLS.Enabled || c.TLS.CAFile != "" || c.TLS.CertFile != "" {
		tc, err := c.TLS.build()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL.Mechanism != "" {
		m, err := c.SASL.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, m)
	}
	return opts, nil
}

func (t *TLSConfig) build() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in by config
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate (cert_file/key_file): %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (s *SASLConfig) mechanism() (kgo.Opt, error) {
	pass := s.Password
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("sasl password_file: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	if s.Username == "" {
		return nil, errors.New("sasl: username is empty")
	}
	if pass == "" {
		return nil, errors.New("sasl: password is empty: set kafka.sasl.password or password_file in the config file, or KBACKUP_SASL_PASSWORD")
	}
	switch strings.ToUpper(s.Mechanism) {
	case "PLAIN":
		return kgo.SASL(plain.Auth{User: s.Username, Pass: pass}.AsMechanism()), nil
	case "SCRAM-SHA-256":
		return kgo.SASL(scram.Auth{User: s.Username, Pass: pass}.AsSha256Mechanism()), nil
	case "SCRAM-SHA-512":
		return kgo.SASL(scram.Auth{User: s.Username, Pass: pass}.AsSha512Mechanism()), nil
	}
	return nil, fmt.Errorf("sasl mechanism %q is not supported: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
}

// NewClient builds a client and checks, within the dial timeout, that the
// cluster answers.
func NewClient(ctx context.Context, c *Config, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.Opts()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	dial := c.DialTimeout
	if dial <= 0 {
		dial = 10 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, dial)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, pingError(strings.Join(c.Brokers, ","), dial, c.SASL.Mechanism != "", err)
	}
	return cl, nil
}

// pingError says what happened when brokers did not answer a ping: refused,
// authentication, TLS, or no answer within the dial timeout.
func pingError(brokers string, dial time.Duration, sasl bool, err error) error {
	var ke *kerr.Error
	var tlsErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return kindOf(ErrRefused, fmt.Errorf("%w: %s refused the connection (nothing listens there)", ErrUnreachable, brokers))
	case errors.As(err, &ke) && (ke.Code == kerr.SaslAuthenticationFailed.Code || ke.Code == kerr.IllegalSaslState.Code || ke.Code == kerr.UnsupportedSaslMechanism.Code):
		return fmt.Errorf("%w: %s: %s", ErrAuth, brokers, ke.Message)
	case sasl && errors.Is(err, io.EOF):
		// Some brokers close the connection instead of answering a
		// failed authentication.
		return fmt.Errorf("%w: %s closed the connection during SASL authentication", ErrAuth, brokers)
	case errors.As(err, &tlsErr), errors.As(err, &certErr):
		return kindOf(ErrTLS, fmt.Errorf("%w: %s: TLS handshake failed (%v)", ErrUnreachable, brokers, err))
	case errors.As(err, &dnsErr):
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, brokers, dnsErr)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return kindOf(ErrTimeout, fmt.Errorf("%w: %s did not answer within %s", ErrUnreachable, brokers, dial))
	}
	return fmt.Errorf("%w: %s: %v", ErrUnreachable, brokers, err)
}
