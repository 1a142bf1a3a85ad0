package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/kafka/devcluster"
)

// testCA makes a CA and a server certificate for 127.0.0.1, and returns the
// server's TLS config and the CA's PEM.
func testCA(t *testing.T) (*tls.Config, []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kbackup test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	return cfg, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// TestTLS backs up from a TLS-only broker with the CA given in the config
// file, and fails clearly without it.
func TestTLS(t *testing.T) {
	srv, caPEM := testCA(t)
	c, err := devcluster.Start(devcluster.Options{TLS: srv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "tls.yaml")
	body := "kafka:\n  tls:\n    enabled: true\n    ca_file: " + ca + "\nbackup:\n  once: true\n  topics: [absent]\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// Getting as far as "no topic matches" proves the handshake and the
	// metadata request went through.
	r := kbackup(t, "backup", "--config", cfg, "--brokers", c.Addr(), "--storage", filepath.Join(dir, "store"))
	if r.code == 0 || !strings.Contains(r.stderr, "no topic matches") {
		t.Fatalf("with the CA: exit %d, %q", r.code, r.stderr)
	}
	// A client without TLS cannot talk to the broker.
	r = kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", filepath.Join(dir, "store"), "--dial-timeout", "2s")
	if r.code == 0 || strings.Contains(r.stderr, "no topic matches") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Fatalf("without TLS: exit %d, %q", r.code, r.stderr)
	}
	t.Logf("without TLS: %s", strings.TrimSpace(r.stderr))
	// With TLS but without the CA, the broker's certificate is not trusted.
	body = "kafka:\n  tls:\n    enabled: true\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r = kbackup(t, "backup", "--once", "--config", cfg, "--brokers", c.Addr(), "--storage", filepath.Join(dir, "store"), "--dial-timeout", "2s")
	if r.code == 0 || !strings.Contains(r.stderr, "certificate") {
		t.Fatalf("untrusted CA: exit %d, %q", r.code, r.stderr)
	}
	t.Logf("untrusted CA: %s", strings.TrimSpace(r.stderr))
}
