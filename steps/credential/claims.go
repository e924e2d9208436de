package credential

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/rebind-dev/rebind/steps"
)

// Claims are the access token claims `rebind doctor` reads to learn what a
// credential may do. Microsoft's access token reference
// (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference)
// documents them: roles, the application permissions granted to an app
// signing in as itself; scp, the space-separated delegated permissions
// consented for a signed-in user; wids, the tenant-wide roles of that
// user, as role template IDs; tid, the tenant; appid, the client; aud,
// the API the token is for.
type Claims struct {
	Roles []string `json:"roles"`
	Scp   string   `json:"scp"`
	Wids  []string `json:"wids"`
	Tid   string   `json:"tid"`
	AppID string   `json:"appid"`
	Aud   string   `json:"aud"`
	// Name of the signed-in user, for delegated tokens.
	UPN string `json:"upn"`
}

// ParseClaims reads the claims of a JWT access token. The signature is
// not verified: the token is rebind's own, just received from the identity
// platform over TLS, and only read to tell the admin what it carries; the
// API that receives it verifies it.
func ParseClaims(token string) (Claims, error) {
	var c Claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, errors.New("the token is not a JWT (three dot-separated parts)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, fmt.Errorf("the token's payload is not base64url: %w", err)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("the token's payload is not JSON: %w", err)
	}
	return c, nil
}

// Delegated reports whether the token was issued for a signed-in user.
func (c Claims) Delegated() bool { return c.Scp != "" }

// Scopes are the delegated permissions.
func (c Claims) Scopes() []string { return strings.Fields(c.Scp) }

// GlobalAdministratorRole is the Global Administrator role's template ID,
// as the wids claim carries it
// (https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference#global-administrator).
const GlobalAdministratorRole = "62e90394-69f5-4237-9190-012177145e10"

// TokenChecks obtains a token for scope with cred and compares what it
// carries with needs (those of service, e.g. "Graph"). It returns the
// "sign-in" check and one check per needed permission.
func TokenChecks(ctx context.Context, cred azcore.TokenCredential, scope, service string, needs []steps.Permission, fixSignIn string) []steps.Check {
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		return []steps.Check{steps.Failed("sign-in", firstLine(err.Error()), fixSignIn)}
	}
	c, err := ParseClaims(tok.Token)
	if err != nil {
		out := []steps.Check{steps.OK("sign-in", "a token for "+scope)}
		for _, n := range needs {
			if n.Service == service {
				out = append(out, steps.Unknown(service+" "+n.Name, "the token's permissions cannot be read: "+err.Error(), "check the app registration's granted permissions by hand (docs/setup.md)"))
			}
		}
		return out
	}
	who := fmt.Sprintf("app-only token for app %s in tenant %s", c.AppID, c.Tid)
	if c.Delegated() {
		who = fmt.Sprintf("delegated token for %s (app %s, tenant %s)", orUnknown(c.UPN), c.AppID, c.Tid)
	}
	out := []steps.Check{steps.OK("sign-in", who)}
	for _, n := range needs {
		if n.Service != service {
			continue
		}
		out = append(out, permissionCheck(c, service, n))
	}
	return out
}

func permissionCheck(c Claims, service string, n steps.Permission) steps.Check {
	name := service + " " + n.Name
	have := c.Roles
	kind := "application permission"
	if c.Delegated() {
		have, kind = c.Scopes(), "delegated permission"
	}
	granted := ""
	for _, h := range have {
		if steps.GraphImplies(h, n.Name) {
			granted = h
			break
		}
	}
	// Else a higher privileged permission the call's page accepts.
	for _, alt := range n.Alternatives() {
		for _, h := range have {
			if granted == "" && steps.GraphImplies(h, alt) {
				granted = h
			}
		}
	}
	switch {
	case n.DelegatedOnly() && !c.Delegated():
		// The steps that make such a call read its answer as "unknown"
		// under an app-only token, and the runbooks then take the admin's
		// own reading as an input: a warning, not a missing permission.
		return steps.Check{Name: name, State: steps.CheckWarning,
			Detail: "Microsoft offers it only as a delegated permission, and this is an app-only token: rebind reads what it guards as unknown, and the runbook asks for a Global Administrator's reading instead",
			Fix:    "give the runbook the admin's reading (its -var), or set device_code = true in the environment's entra target and sign in as a Global Administrator; the app needs " + n.Name + " as a delegated permission (docs/setup.md)"}
	case granted == "":
		return steps.Failed(name, fmt.Sprintf("the token does not carry the %s %s (it has: %s)", kind, n.Name, orNone(have)),
			fmt.Sprintf("add the %s %s %s to the app registration and grant admin consent (docs/setup.md)", service, kind, n.Name))
	case n.DelegatedOnly() && !contains(c.Wids, GlobalAdministratorRole):
		return steps.Failed(name, "granted, but the signed-in user is not a Global Administrator, which Microsoft requires for this call",
			"sign in as a Global Administrator")
	}
	detail := "granted"
	if granted != n.Name {
		detail = "granted through " + granted
	}
	return steps.OK(name, detail)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "an unnamed user"
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
