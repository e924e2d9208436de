package credential

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/rebind-dev/rebind/steps"
)

// SignIn is what a target type's doctor checks of a service it reaches
// with a token: the endpoint, then a token and the permissions in it.
type SignIn struct {
	// Endpoint is checked first: reachable, and over https with a sound
	// certificate (steps.EndpointChecks). "" checks no endpoint.
	Endpoint string
	// Scope is the token's scope, the resource's .default
	// (https://learn.microsoft.com/entra/identity-platform/scopes-oidc#the-default-scope).
	Scope string
	// Service names the permissions in Needs the token must carry
	// ("Graph", "Exchange"); TokenChecks compares only those.
	Service string
	Needs   []steps.Permission
	// Fix says how to mend a failed sign-in.
	Fix string
	// New builds the credential; nil means New (tests hand in tokens with
	// chosen claims).
	New func(Options) (azcore.TokenCredential, error)
}

// caFileFix is the fix for settings ForTarget refuses (a ca_file that
// cannot be read or holds no certificate).
const caFileFix = "point ca_file at a PEM file of CA certificates"

// Checks reads cfg's sign-in settings as ForTarget does and makes the
// checks: the endpoint's (when there is one; a failure there ends them),
// then "sign-in" and one per permission needed (TokenChecks). Settings
// ForTarget refuses fail the "endpoint" check, or "settings" when no
// endpoint is checked. asked reports whether the checks got as far as
// asking for a token (TokenChecks ran), so that a caller may add its own
// after them.
func (s SignIn) Checks(ctx context.Context, cfg steps.TargetConfig) (checks []steps.Check, asked bool) {
	sign, err := ForTarget(cfg)
	if err != nil {
		name := "endpoint"
		if s.Endpoint == "" {
			name = "settings"
		}
		return []steps.Check{steps.Failed(name, err.Error(), caFileFix)}, false
	}
	if s.Endpoint != "" {
		checks = steps.EndpointChecks(ctx, s.Endpoint, sign.Roots)
		if checks[len(checks)-1].State == steps.CheckFailed {
			return checks, false
		}
	}
	newCred := s.New
	if newCred == nil {
		newCred = New
	}
	cred, err := newCred(sign.Options)
	if err != nil {
		return append(checks, steps.Failed("sign-in", err.Error(), s.Fix)), false
	}
	return append(checks, TokenChecks(ctx, cred, s.Scope, s.Service, s.Needs, s.Fix)...), true
}
