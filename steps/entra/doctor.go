package entra

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/entra/credential"
)

var _ steps.Doctor = targetType{}

// Doctor checks the Graph endpoint (reachable; TLS chain, name and expiry
// when https), the credential (a token for the Graph .default scope), and
// that the token carries the Graph permissions the runbook's entra steps
// declare: the application permissions in its roles claim, or for a
// signed-in person the delegated ones in scp (and the Global Administrator
// role in wids where the API page requires it).
func (targetType) Doctor(ctx context.Context, req steps.DoctorRequest) []steps.Check {
	cfg := req.Config
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	graphURL, ok := steps.String(cfg.Config, "graph_url")
	if !ok {
		graphURL = DefaultGraphURL
	}
	tenant, ok := steps.String(cfg.Config, "tenant_id")
	if !ok {
		tenant = getenv("AZURE_TENANT_ID")
	}
	device, _ := steps.Bool(cfg.Config, "device_code")
	if cfg.Lab != "" {
		graphURL = strings.TrimSuffix(cfg.Lab, "/")
	}
	checks := EndpointChecks(ctx, graphURL, cfg.Lab != "")
	if checks[len(checks)-1].State == steps.CheckFailed {
		return checks
	}
	cred, err := credential.New(credential.Options{TenantID: tenant, DeviceCode: device, Lab: cfg.Lab != ""})
	if err != nil {
		return append(checks, steps.Failed("sign-in", err.Error(), signInFix))
	}
	// The token's audience is Graph's, whatever endpoint the lab serves
	// it from: the .default scope of the resource (https://learn.microsoft.com/entra/identity-platform/scopes-oidc#the-default-scope).
	scope := strings.TrimSuffix(graphURL, "/") + "/.default"
	return append(checks, credential.TokenChecks(ctx, cred, scope, "Graph", req.Needs, signInFix)...)
}

const signInFix = "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH (or sign in with device_code = true); docs/setup.md"

// EndpointChecks checks that an https endpoint is reachable and its
// certificate sound, or, for a lab over http, only that it is reachable.
func EndpointChecks(ctx context.Context, endpoint string, lab bool) []steps.Check {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return []steps.Check{steps.Failed("endpoint", fmt.Sprintf("%q is not a URL", endpoint), "give an https:// URL")}
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	if u.Scheme == "https" {
		return steps.CheckTLS(ctx, addr, u.Hostname(), nil, time.Now())
	}
	if !lab {
		return []steps.Check{steps.Failed("endpoint", endpoint+" is not https", "use an https:// URL")}
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return []steps.Check{steps.Failed("reachable", err.Error(), "start the lab (rebind lab serve) or give its URL")}
	}
	c.Close()
	return []steps.Check{steps.OK("reachable", addr+" (a lab over http: no TLS to check)")}
}
