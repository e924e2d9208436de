package entra

import (
	"context"

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
	graphURL := graphEndpoint(req.Config)
	// The token's audience is Graph's: the .default scope of the resource.
	checks, _ := credential.SignIn{Endpoint: graphURL, Scope: credential.DefaultScope(graphURL),
		Service: "Graph", Needs: req.Needs, Fix: signInFix}.Checks(ctx, req.Config)
	return checks
}

const signInFix = "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH (or sign in with device_code = true); docs/setup.md"
