package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
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

// ErrNoPEM is wrapped by Roots' and CARoots' error for a ca_file that
// holds no PEM certificate (one that cannot be read gets the read error).
var ErrNoPEM = errors.New("holds no PEM certificate")

// Roots returns the system's roots plus the certificates in caFile; nil
// (the system's roots) when caFile is "".
func Roots(caFile string) (*x509.CertPool, error) { return caRoots(caFile, true) }

// CARoots returns the certificates in caFile alone, for a server whose
// certificate must chain to them instead of the system's roots (ad's
// ca_file); nil (the system's roots) when caFile is "".
func CARoots(caFile string) (*x509.CertPool, error) { return caRoots(caFile, false) }

// caRoots reads caFile's certificates into a pool, the system's roots
// first when system is set.
func caRoots(caFile string, system bool) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if system {
		if sys, err := x509.SystemCertPool(); err == nil {
			pool = sys
		}
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s %w", caFile, ErrNoPEM)
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
