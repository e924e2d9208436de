package ad

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// Directory is what the step types need from a domain controller. The `ad`
// target's client implements it; tests may hand in anything else that does.
type Directory interface {
	Search(req *ldap.SearchRequest) (*ldap.SearchResult, error)
	SearchWithPaging(req *ldap.SearchRequest, pagingSize uint32) (*ldap.SearchResult, error)
	Modify(req *ldap.ModifyRequest) error
	Add(req *ldap.AddRequest) error
	Del(req *ldap.DelRequest) error
	// BaseDN is the naming context searches start from, e.g. DC=corp,DC=example,DC=com.
	BaseDN() string
}

// Environment variables read when the target names no others.
const (
	EnvBindDN   = "REBIND_AD_BIND_DN"
	EnvPassword = "REBIND_AD_PASSWORD"
	EnvCAFile   = "REBIND_AD_CA_FILE"
)

// ErrInsecure is wrapped by Open when a simple bind would send the password
// in clear text and the target does not say `insecure = true`.
var ErrInsecure = errors.New("ad: refusing a simple bind without TLS")

// dialTimeout bounds connecting and each request.
const dialTimeout = 30 * time.Second

type targetType struct{}

func init() {
	steps.RegisterTarget(targetType{})
}

func (targetType) Info() steps.TargetInfo {
	return steps.TargetInfo{
		Name: "ad",
		Doc: "An Active Directory domain controller over LDAP. TLS is verified (ldaps://, or StartTLS on ldap://); " +
			"the bind DN and password come from the environment, never from the runbook.",
		Schema: steps.Schema{
			"url":          {Type: cty.String, Required: true, Doc: "The domain controller, ldaps://host[:port] or ldap://host[:port]."},
			"base_dn":      {Type: cty.String, Required: true, Doc: "The naming context to search, e.g. DC=corp,DC=example,DC=com."},
			"ca_file":      {Type: cty.String, Doc: "A PEM file of CA certificates to trust instead of the system's (default: $REBIND_AD_CA_FILE)."},
			"server_name":  {Type: cty.String, Doc: "The name to verify the certificate against when url names an address rather than the DC's host name."},
			"insecure":     {Type: cty.Bool, Doc: "Allow a simple bind over a connection without TLS, with start_tls = false on ldap:// (test domain controllers only)."},
			"start_tls":    {Type: cty.Bool, Doc: "Upgrade an ldap:// connection with StartTLS before binding (default true)."},
			"bind_dn_env":  {Type: cty.String, Doc: "The environment variable holding the bind DN or UPN (default REBIND_AD_BIND_DN)."},
			"password_env": {Type: cty.String, Doc: "The environment variable holding the bind password (default REBIND_AD_PASSWORD)."},
		},
	}
}

// settings is a target block after defaults and the lab have been applied.
type settings struct {
	url        string
	baseDN     string
	caFile     string
	serverName string
	insecure   bool
	startTLS   bool
	bindDN     string
	password   string
	bindEnv    string
	passEnv    string
}

func (targetType) Open(ctx context.Context, cfg steps.TargetConfig) (any, error) {
	s, err := resolve(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c, err := dial(s)
	if err != nil {
		// A nil *Client in a non-nil interface would look like a
		// connection to the caller.
		return nil, err
	}
	return c, nil
}

// resolve applies defaults, the environment and the lab to a target block.
func resolve(ctx context.Context, cfg steps.TargetConfig) (settings, error) {
	getenv := cfg.Env()
	var s settings
	s.url, _ = steps.String(cfg.Config, "url")
	s.baseDN, _ = steps.String(cfg.Config, "base_dn")
	s.serverName, _ = steps.String(cfg.Config, "server_name")
	s.insecure, _ = steps.Bool(cfg.Config, "insecure")
	var ok bool
	if s.startTLS, ok = steps.Bool(cfg.Config, "start_tls"); !ok {
		s.startTLS = true
	}
	if s.caFile, ok = steps.String(cfg.Config, "ca_file"); !ok {
		s.caFile = getenv(EnvCAFile)
	}
	if s.bindEnv, ok = steps.String(cfg.Config, "bind_dn_env"); !ok {
		s.bindEnv = EnvBindDN
	}
	if s.passEnv, ok = steps.String(cfg.Config, "password_env"); !ok {
		s.passEnv = EnvPassword
	}
	s.bindDN = getenv(s.bindEnv)
	s.password = getenv(s.passEnv)

	u, err := url.Parse(s.url)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return s, fmt.Errorf("ad: target %s: url %q must be ldaps://host or ldap://host", cfg.Name, s.url)
	}
	if s.baseDN == "" {
		return s, fmt.Errorf("ad: target %s: base_dn is empty", cfg.Name)
	}
	if s.bindDN == "" || s.password == "" {
		return s, fmt.Errorf("ad: target %s: set %s and %s to the bind DN and password (rebind never binds anonymously)", cfg.Name, s.bindEnv, s.passEnv)
	}
	if u.Scheme == "ldap" && !s.startTLS && !s.insecure {
		return s, fmt.Errorf("%w: target %s uses %s with start_tls = false; use ldaps://, StartTLS, or say insecure = true for a test domain controller", ErrInsecure, cfg.Name, s.url)
	}
	return s, nil
}

// tlsConfig verifies the DC's certificate against the CA file, or the
// system's roots when there is none.
func tlsConfig(s settings, host string) (*tls.Config, error) {
	roots, err := httpx.CARoots(s.caFile)
	if err != nil {
		return nil, fmt.Errorf("ad: %w", err)
	}
	return &tls.Config{ServerName: s.tlsName(host), RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

// tlsName is the name the DC's certificate is verified against: server_name,
// or the host the url names.
func (s settings) tlsName(host string) string {
	if s.serverName != "" {
		return s.serverName
	}
	return host
}

// directory returns the call's target as a Directory.
func directory(call steps.Call) (Directory, error) { return steps.TargetOf[Directory](call, "ad") }
