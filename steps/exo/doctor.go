package exo

import (
	"context"
	"strings"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/credential"
)

var _ steps.Doctor = targetType{}

// appOnlyRole is the application permission of the Office 365 Exchange
// Online API that app-only access needs
// (https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2).
const appOnlyRole = "Exchange.ManageAsApp"

// doctorCredential builds the credential doctor signs in with; tests
// replace it to hand in tokens with chosen claims.
var doctorCredential = credential.New

// Doctor checks the Exchange admin endpoint (reachable, TLS), a token for
// it, and in the token the Exchange.ManageAsApp application permission.
// The Exchange RBAC roles the steps need (View-Only Recipients, Mail
// Recipients, Legal Hold) are assigned inside Exchange, not carried in the
// token, and doctor does not run cmdlets: it reports them as not
// observable, with how to assign them.
func (targetType) Doctor(ctx context.Context, req steps.DoctorRequest) []steps.Check {
	cfg := req.Config
	org, base := settings(cfg)
	if org == "" {
		return []steps.Check{steps.Failed("settings", "organization is not set", "set organization (e.g. contoso.onmicrosoft.com) in the environment's exo target")}
	}
	// The token checks read Exchange.ManageAsApp as a permission of the
	// "Exchange" service; the declaration names it under Entra, where it
	// is granted.
	var needs []steps.Permission
	var roles []steps.Permission
	for _, n := range req.Needs {
		switch {
		case strings.Contains(n.Name, appOnlyRole):
			needs = append(needs, steps.Permission{Service: "Exchange", Name: appOnlyRole})
		case n.Service == "Exchange":
			roles = append(roles, n)
		}
	}
	checks, asked := credential.SignIn{Endpoint: base, Scope: scope, Service: "Exchange", Needs: needs,
		Fix: "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH; docs/setup.md",
		New: doctorCredential}.Checks(ctx, cfg)
	for i := range checks {
		if checks[i].Name == "Exchange "+appOnlyRole && checks[i].State == steps.CheckFailed {
			checks[i].Fix = "in the app registration, add the Office 365 Exchange Online application permission Exchange.ManageAsApp and grant admin consent (docs/setup.md)"
		}
	}
	if !asked {
		return checks
	}
	for _, r := range roles {
		checks = append(checks, steps.Unknown("Exchange role "+r.Name, "Exchange RBAC roles are not in the token, and doctor runs no cmdlet",
			"in Exchange Online PowerShell: New-ServicePrincipal for the app, then add it to a role group holding "+r.Name+" (docs/setup.md)"))
	}
	return checks
}
