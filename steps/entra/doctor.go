package entra

import (
	"context"
	"strings"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/credential"
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
	graphURL, ok := steps.String(cfg.Config, "graph_url")
	if !ok {
		graphURL = DefaultGraphURL
	}
	sign, err := credential.ForTarget(cfg)
	if err != nil {
		return []steps.Check{steps.Failed("endpoint", err.Error(), "point ca_file at a PEM file of CA certificates")}
	}
	checks := steps.EndpointChecks(ctx, graphURL, sign.Roots)
	if checks[len(checks)-1].State == steps.CheckFailed {
		return checks
	}
	cred, err := credential.New(sign.Options)
	if err != nil {
		return append(checks, steps.Failed("sign-in", err.Error(), signInFix))
	}
	// The token's audience is Graph's: the .default scope of the resource
	// (https://learn.microsoft.com/entra/identity-platform/scopes-oidc#the-default-scope).
	scope := strings.TrimSuffix(graphURL, "/") + "/.default"
	return append(checks, credential.TokenChecks(ctx, cred, scope, "Graph", req.Needs, signInFix)...)
}

const signInFix = "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH (or sign in with device_code = true); docs/setup.md"
