package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"
)

// Transport returns an HTTP transport that verifies servers against the
// system's roots plus the CA certificates in caFile (PEM), for a service
// reached through a TLS-inspecting proxy or behind a private CA; caFile ""
// means the system's roots alone. Verification is never turned off.
func Transport(caFile string) (*http.Transport, error) {
	pool, err := Roots(caFile)
	if err != nil {
		return nil, err
	}
	return TransportFor(pool), nil
}

// RequireHTTPS refuses an endpoint setting (graph_url, url) that is not an
// https:// URL with a host: the targets that take one send bearer tokens
// to it, which RFC 6750 section 5.3 says to send over TLS only ("Always
// use TLS (https)"). The error names the setting and its value.
func RequireHTTPS(setting, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%s %q must be an https:// URL", setting, raw)
	}
	return nil
}

// TransportFor returns an HTTP transport that verifies servers against
// roots (nil: the system's).
func TransportFor(roots *x509.CertPool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if roots != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return t
}

// Roots returns the system's roots plus the certificates in caFile; nil
// (the system's roots) when caFile is "".
func Roots(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// Client returns an HTTP client over Transport(caFile) with the given
// timeout.
func Client(caFile string, timeout time.Duration) (*http.Client, error) {
	t, err := Transport(caFile)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t, Timeout: timeout}, nil
}
