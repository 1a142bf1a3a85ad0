package kafka_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/kafka/devcluster"
)

// TestNewClientSaysWhatHappened: a refused connection is reported as
// refused (not as a timeout), silence as a timeout, a wrong password as
// authentication, an empty password as configuration.
func TestNewClientSaysWhatHappened(t *testing.T) {
	ctx := context.Background()
	refused := freeAddr(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c, err := devcluster.Start(devcluster.Options{SASL: devcluster.SASL{Mechanism: "SCRAM-SHA-256", User: "u", Password: "right"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sasl := func(pass string) kafka.SASLConfig {
		return kafka.SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "u", Password: pass}
	}
	for _, tc := range []struct {
		name     string
		cfg      kafka.Config
		sentinel error
		msg      string
		fast     bool
	}{
		{"refused", kafka.Config{Brokers: []string{refused}, DialTimeout: 10 * time.Second}, kafka.ErrUnreachable, "refused the connection", true},
		{"silent", kafka.Config{Brokers: []string{silent.Addr().String()}, DialTimeout: time.Second}, kafka.ErrUnreachable, "did not answer within 1s", false},
		{"wrong password", kafka.Config{Brokers: []string{c.Addr()}, SASL: sasl("wrong"), DialTimeout: 10 * time.Second}, kafka.ErrAuth, "authentication failed", true},
		{"empty password", kafka.Config{Brokers: []string{c.Addr()}, SASL: sasl(""), DialTimeout: 10 * time.Second}, kafka.ErrConfig, "password is empty", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			cl, err := kafka.NewClient(ctx, &tc.cfg)
			if err == nil {
				cl.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v saying %q", err, tc.sentinel, tc.msg)
			}
			if tc.fast && time.Since(start) > 5*time.Second {
				t.Errorf("took %s: it waited for the timeout", time.Since(start))
			}
		})
	}
	cl, err := kafka.NewClient(ctx, &kafka.Config{Brokers: []string{c.Addr()}, SASL: sasl("right")})
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	cl.Close()
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
