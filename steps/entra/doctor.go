package entra

import (
	"context"
	"os"
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
		// A lab is verified with its own CA and signs in at its own token
		// endpoint, exactly as the target does when it opens.
		roots, err := credential.LabRoots(cfg.Lab, getenv)
		if err != nil {
			return []steps.Check{steps.Failed("endpoint", err.Error(), "set REBIND_LAB_CA to the CA file `rebind lab serve --ca-file` wrote")}
		}
		checks := steps.EndpointChecks(ctx, strings.TrimSuffix(cfg.Lab, "/"), roots, true)
		if checks[len(checks)-1].State == steps.CheckFailed {
			return checks
		}
		cred, _, _, err := credential.Lab(ctx, cfg.Lab, getenv)
		if err != nil {
			return append(checks, steps.Failed("sign-in", err.Error(), "check the lab's app (REBIND_LAB_CLIENT_ID / REBIND_LAB_CLIENT_SECRET) or REBIND_LAB_TOKEN"))
		}
		return append(checks, credential.TokenChecks(ctx, cred, DefaultGraphURL+"/.default", "Graph", req.Needs, signInFix)...)
	}
	checks := steps.EndpointChecks(ctx, graphURL, nil, false)
	if checks[len(checks)-1].State == steps.CheckFailed {
		return checks
	}
	cred, err := credential.New(credential.Options{TenantID: tenant, DeviceCode: device})
	if err != nil {
		return append(checks, steps.Failed("sign-in", err.Error(), signInFix))
	}
	// The token's audience is Graph's: the .default scope of the resource
	// (https://learn.microsoft.com/entra/identity-platform/scopes-oidc#the-default-scope).
	scope := strings.TrimSuffix(graphURL, "/") + "/.default"
	return append(checks, credential.TokenChecks(ctx, cred, scope, "Graph", req.Needs, signInFix)...)
}

const signInFix = "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH (or sign in with device_code = true); docs/setup.md"
