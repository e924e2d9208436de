package steps

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// testCA is a self-made CA that issues server certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) issue(t *testing.T, name string, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: notAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serveTLS listens on loopback with cert and answers handshakes.
func serveTLS(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); time.Sleep(100 * time.Millisecond); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestCheckTLS(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	now := time.Now()
	good := serveTLS(t, ca.issue(t, "dc01.corp.example.com", now.Add(90*24*time.Hour)))
	soon := serveTLS(t, ca.issue(t, "dc01.corp.example.com", now.Add(3*24*time.Hour)))
	expired := serveTLS(t, ca.issue(t, "dc01.corp.example.com", now.Add(-24*time.Hour)))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()

	for _, c := range []struct {
		name, addr, host string
		roots            *x509.CertPool
		state            CheckState
		detail, fix      string
	}{
		{"trusted", good, "dc01.corp.example.com", ca.pool, CheckOK, "issued by Test Root CA, valid until", ""},
		{"untrusted CA", good, "dc01.corp.example.com", other.pool, CheckFailed, "does not chain to a trusted CA", "ca_file"},
		{"wrong name", good, "dc02.corp.example.com", ca.pool, CheckFailed, "names dc01.corp.example.com, not dc02.corp.example.com", "server_name"},
		{"expiring", soon, "dc01.corp.example.com", ca.pool, CheckWarning, "expires on", "renew"},
		{"expired", expired, "dc01.corp.example.com", ca.pool, CheckFailed, "expired on", "renew"},
	} {
		t.Run(c.name, func(t *testing.T) {
			checks := CheckTLS(context.Background(), c.addr, c.host, c.roots, now)
			if len(checks) != 2 || checks[0].State != CheckOK {
				t.Fatalf("checks: %+v", checks)
			}
			got := checks[1]
			if got.State != c.state || !strings.Contains(got.Detail, c.detail) || !strings.Contains(got.Fix, c.fix) {
				t.Errorf("got %+v, want %s with %q and fix %q", got, c.state, c.detail, c.fix)
			}
		})
	}
	checks := CheckTLS(context.Background(), closed, "x", nil, now)
	if len(checks) != 1 || checks[0].Name != "reachable" || checks[0].State != CheckFailed {
		t.Errorf("closed port: %+v", checks)
	}
}
