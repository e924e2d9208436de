package control

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// EnvCA names the environment variable holding the path of a lab's CA
// certificate (PEM), as `rebind lab serve --ca-file` writes it: a client
// given --lab URL verifies the lab's TLS certificate against it.
const EnvCA = "REBIND_LAB_CA"

// trusted holds the CAs of labs this process started, by origin
// (scheme://host:port): `rebind rehearse` and tests hand the CA over
// directly instead of through a file.
var trusted sync.Map // string -> []byte

// Trust records pem as the CA of the lab at base, for this process.
func Trust(base string, pem []byte) {
	if o := origin(base); o != "" {
		trusted.Store(o, append([]byte(nil), pem...))
	}
}

// Forget drops what Trust recorded for base.
func Forget(base string) {
	if o := origin(base); o != "" {
		trusted.Delete(o)
	}
}

func origin(base string) string {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// TLSConfig returns how to verify the lab at base: the system's roots plus
// the lab's CA, exactly as a client verifies a real service with a private
// CA added, never without verification. The CA is the one Trust recorded
// for base, else the PEM file named by $REBIND_LAB_CA (getenv; nil means
// os.Getenv). A plain http:// lab (served with --plain-http) needs none:
// TLSConfig then returns nil.
func TLSConfig(base string, getenv func(string) string) (*tls.Config, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("lab %q: not a URL", base)
	}
	if u.Scheme == "http" {
		return nil, nil
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	var pem []byte
	if v, ok := trusted.Load(origin(base)); ok {
		pem = v.([]byte)
	} else if f := getenv(EnvCA); f != "" {
		if pem, err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("lab %s: CA file ($%s): %w", base, EnvCA, err)
		}
	} else {
		return nil, fmt.Errorf("lab %s: no CA to verify it with: set %s to the CA file `rebind lab serve --ca-file` wrote (or the \"ca\" of its /lab/endpoints)", base, EnvCA)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("lab %s: the CA (%s) holds no PEM certificate", base, EnvCA)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}, nil
}

// Transport returns an HTTP transport that verifies the lab at base.
func Transport(base string, getenv func(string) string) (*http.Transport, error) {
	cfg, err := TLSConfig(base, getenv)
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	return t, nil
}

// Client returns an HTTP client for the lab at base with the given
// timeout.
func Client(base string, getenv func(string) string, timeout time.Duration) (*http.Client, error) {
	t, err := Transport(base, getenv)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t, Timeout: timeout}, nil
}

// Endpoints is what GET /lab/endpoints answers: where the lab serves each
// protocol and how to authenticate to it. The lab writes it and its
// clients read it.
type Endpoints struct {
	Graph    string `json:"graph"`
	Exchange string `json:"exchange"`
	Control  string `json:"control"`
	LDAP     string `json:"ldap,omitempty"`
	// LDAPBaseDN, LDAPBindDN and LDAPPassword tell a client how to bind to
	// the lab's LDAP endpoint; the lab's administrator password is not a
	// secret worth keeping (it exists only on loopback).
	LDAPBaseDN   string `json:"ldap_base_dn,omitempty"`
	LDAPBindDN   string `json:"ldap_bind_dn,omitempty"`
	LDAPPassword string `json:"ldap_password,omitempty"`
	// LDAPS is the LDAPS URL (TLS from the first byte), e.g.
	// ldaps://127.0.0.1:41236; its certificate chains to CA.
	LDAPS  string `json:"ldaps,omitempty"`
	Tenant string `json:"tenant"`
	// TenantID is the tenant's id, the tid of its tokens.
	TenantID string `json:"tenant_id"`
	// CA is the PEM of the CA the lab's HTTPS and LDAPS certificates
	// chain to: a client adds it to its roots.
	CA string `json:"ca,omitempty"`
	// CAFile is the file the lab wrote CA to (`rebind lab serve
	// --ca-file`), for a client that takes a path (LDAPTLS_CACERT,
	// NODE_EXTRA_CA_CERTS, curl --cacert); "" when none was asked for.
	CAFile string `json:"ca_file,omitempty"`
	// Authority is the identity platform authority host to get tokens
	// from (AZURE_AUTHORITY_HOST, with instance discovery disabled);
	// TokenEndpoint is its client credentials token endpoint.
	Authority     string `json:"authority,omitempty"`
	TokenEndpoint string `json:"token_endpoint,omitempty"`
	// ClientID and ClientSecret are the lab's default app registration,
	// which holds the application permissions the bundled runbooks need.
	// Like the LDAP password, the secret exists only in this lab.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
}
