package pgtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a throwaway certificate authority.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// File is the CA certificate in PEM, for sslrootcert.
	File string
}

// NewCA makes a CA whose certificate is written under dir.
func NewCA(t testing.TB, dir, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{cert: cert, key: key, File: filepath.Join(dir, name+".crt")}
	writePEM(t, ca.File, "CERTIFICATE", der, 0o644)
	return ca
}

func writePEM(t testing.TB, path, typ string, der []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
}

// EnableTLS gives the server a certificate for 127.0.0.1 and localhost
// signed by ca, turns ssl on and restarts it. EnableTLSFor names other
// hosts instead. Per PostgreSQL's "Secure TCP/IP
// Connections with SSL" (https://www.postgresql.org/docs/current/ssl-tcp.html),
// ssl_cert_file and ssl_key_file name the server's certificate and key, and
// the key must not be readable by group or others.
func (c *Cluster) EnableTLS(t testing.TB, ca *CA) {
	t.Helper()
	c.EnableTLSFor(t, ca, "localhost", "127.0.0.1")
}

// EnableTLSFor is EnableTLS with a certificate naming only hosts (DNS
// names, or IP addresses), so a test can dial a host it does not name.
// Called again, it replaces the certificate.
func (c *Cluster) EnableTLSFor(t testing.TB, ca *CA, hosts ...string) {
	t.Helper()
	var dns []string
	var ips []net.IP
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, h)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     dns,
		IPAddresses:  ips,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(c.Dir, "data")
	crt, kf := filepath.Join(data, "server.crt"), filepath.Join(data, "server.key")
	writePEM(t, crt, "CERTIFICATE", der, 0o644)
	writePEM(t, kf, "EC PRIVATE KEY", kder, 0o600)
	for _, p := range []string{crt, kf} {
		if err := chown(p, c.cred); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
	f.Close()
	c.Restart(t)
}
