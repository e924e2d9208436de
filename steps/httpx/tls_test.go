package httpx

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRequireHTTPS: an https:// URL with a host passes; plain http, no
// scheme, no host or an unparsable URL is refused with the setting and
// value named.
func TestRequireHTTPS(t *testing.T) {
	for _, ok := range []string{"https://graph.microsoft.com", "https://127.0.0.1:8443/", "https://outlook.office365.com/adminapi"} {
		if err := RequireHTTPS("graph_url", ok); err != nil {
			t.Errorf("RequireHTTPS(%q) = %v, want nil", ok, err)
		}
	}
	for raw, want := range map[string]string{
		"http://graph.microsoft.com": `graph_url "http://graph.microsoft.com" must be an https:// URL`,
		"graph.microsoft.com":        `graph_url "graph.microsoft.com" must be an https:// URL`,
		"https:///v1.0":              `graph_url "https:///v1.0" must be an https:// URL`,
		"https://[::1":               `graph_url "https://[::1" must be an https:// URL`,
		"":                           `graph_url "" must be an https:// URL`,
	} {
		if err := RequireHTTPS("graph_url", raw); err == nil || err.Error() != want {
			t.Errorf("RequireHTTPS(%q) = %v, want %q", raw, err, want)
		}
	}
}

// TestCARoots: CARoots holds the ca_file's certificates alone, Roots the
// system's besides; both name ca_file when it cannot be read, and wrap
// ErrNoPEM when it holds no certificate; no ca_file is nil (the system's
// roots).
func TestCARoots(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	only := x509.NewCertPool()
	only.AddCert(srv.Certificate())
	if got, err := CARoots(caFile); err != nil || !got.Equal(only) {
		t.Fatalf("CARoots = %v, %v; want the file's certificate alone", got, err)
	}
	if sys, err := x509.SystemCertPool(); err == nil {
		sys.AddCert(srv.Certificate())
		if got, err := Roots(caFile); err != nil || !got.Equal(sys) {
			t.Fatalf("Roots = %v; want the system's roots and the file's certificate", err)
		}
	}
	for _, roots := range []func(string) (*x509.CertPool, error){Roots, CARoots} {
		if got, err := roots(""); got != nil || err != nil {
			t.Errorf("no ca_file: %v, %v; want nil, nil", got, err)
		}
		notPEM := filepath.Join(dir, "ca.txt")
		os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
		if _, err := roots(notPEM); !errors.Is(err, ErrNoPEM) || err.Error() != "ca_file "+notPEM+" holds no PEM certificate" {
			t.Errorf("a file without PEM: %v", err)
		}
		missing := filepath.Join(dir, "missing.pem")
		if _, err := roots(missing); err == nil || errors.Is(err, ErrNoPEM) || !strings.HasPrefix(err.Error(), "ca_file: open "+missing) {
			t.Errorf("a missing file: %v", err)
		}
	}
}
