package credential

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/steps"
)

// jwt crafts an unsigned token with claims, as the identity platform's
// access tokens carry them (the signature is not read).
func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + ".c2ln"
}

var needs = []steps.Permission{
	steps.ParsePermission("Graph: User.Read.All"),
	steps.ParsePermission("Graph: User.ReadWrite.All"),
	steps.ParsePermission("Graph: OnPremDirectorySynchronization.Read.All (delegated only: a Global Administrator signs in, device_code = true)"),
	steps.ParsePermission("AD: read users"),
}

func states(checks []steps.Check) map[string]steps.Check {
	m := map[string]steps.Check{}
	for _, c := range checks {
		m[c.Name] = c
	}
	return m
}

func TestTokenChecksAppOnly(t *testing.T) {
	tok := jwt(t, map[string]any{"aud": "https://graph.microsoft.com", "tid": "t1", "appid": "a1", "roles": []string{"User.ReadWrite.All"}})
	got := states(TokenChecks(context.Background(), Static(tok), "https://graph.microsoft.com/.default", "Graph", needs, "fix"))
	if len(got) != 4 {
		t.Fatalf("checks: %+v (an AD need is not Graph's)", got)
	}
	if c := got["sign-in"]; c.State != steps.CheckOK || !strings.Contains(c.Detail, "app-only token for app a1 in tenant t1") {
		t.Errorf("sign-in: %+v", c)
	}
	if c := got["Graph User.Read.All"]; c.State != steps.CheckOK || c.Detail != "granted through User.ReadWrite.All" {
		t.Errorf("User.Read.All: %+v", c)
	}
	if c := got["Graph User.ReadWrite.All"]; c.State != steps.CheckOK {
		t.Errorf("User.ReadWrite.All: %+v", c)
	}
	if c := got["Graph OnPremDirectorySynchronization.Read.All"]; c.State != steps.CheckWarning || !strings.Contains(c.Fix, "device_code = true") || !strings.Contains(c.Fix, "-var") {
		t.Errorf("delegated-only with an app token: %+v", c)
	}
}

func TestTokenChecksMissingRole(t *testing.T) {
	tok := jwt(t, map[string]any{"tid": "t1", "appid": "a1", "roles": []string{"User.Read.All"}})
	got := states(TokenChecks(context.Background(), Static(tok), "s", "Graph", needs[:2], "fix"))
	c := got["Graph User.ReadWrite.All"]
	if c.State != steps.CheckFailed || !strings.Contains(c.Detail, "it has: User.Read.All") || !strings.Contains(c.Fix, "grant admin consent") {
		t.Errorf("missing role: %+v", c)
	}
}

func TestTokenChecksDelegated(t *testing.T) {
	tok := jwt(t, map[string]any{"tid": "t1", "appid": "a1", "upn": "admin@contoso.com",
		"scp": "User.ReadWrite.All OnPremDirectorySynchronization.Read.All", "wids": []string{GlobalAdministratorRole}})
	got := states(TokenChecks(context.Background(), Static(tok), "s", "Graph", needs, "fix"))
	for _, n := range []string{"Graph User.Read.All", "Graph User.ReadWrite.All", "Graph OnPremDirectorySynchronization.Read.All"} {
		if got[n].State != steps.CheckOK {
			t.Errorf("%s: %+v", n, got[n])
		}
	}
	if !strings.Contains(got["sign-in"].Detail, "delegated token for admin@contoso.com") {
		t.Errorf("sign-in: %+v", got["sign-in"])
	}
	// The same scopes for a user who is not a Global Administrator.
	tok = jwt(t, map[string]any{"scp": "OnPremDirectorySynchronization.Read.All", "wids": []string{"fe930be7-5e62-47db-91af-98c3a49a38b1"}})
	got = states(TokenChecks(context.Background(), Static(tok), "s", "Graph", needs[2:3], "fix"))
	if c := got["Graph OnPremDirectorySynchronization.Read.All"]; c.State != steps.CheckFailed || !strings.Contains(c.Detail, "not a Global Administrator") {
		t.Errorf("not a Global Administrator: %+v", c)
	}
}

func TestTokenChecksOpaqueToken(t *testing.T) {
	got := states(TokenChecks(context.Background(), Static("not-a-jwt"), "s", "Graph", needs[:1], "fix"))
	if got["sign-in"].State != steps.CheckOK || got["Graph User.Read.All"].State != steps.CheckUnknown {
		t.Errorf("opaque token: %+v", got)
	}
}

// TestTokenChecksHigherPrivileged: a declaration names the least
// privileged permission of the call's page and the higher privileged ones
// the page accepts as well; a token holding one of those passes. POST
// /users/{id}/retryServiceProvisioning lists application
// User.ManageIdentities.All, and as higher privileged
// User.EnableDisableAccount.All, User.ReadWrite.All, Directory.ReadWrite.All
// (https://learn.microsoft.com/graph/api/user-retryserviceprovisioning#permissions).
func TestTokenChecksHigherPrivileged(t *testing.T) {
	need := []steps.Permission{steps.ParsePermission("Graph: User.ManageIdentities.All (or a higher privileged one: User.EnableDisableAccount.All, User.ReadWrite.All, Directory.ReadWrite.All)")}
	check := func(roles ...string) steps.Check {
		tok := jwt(t, map[string]any{"tid": "t1", "appid": "a1", "roles": roles})
		return states(TokenChecks(context.Background(), Static(tok), "s", "Graph", need, "fix"))["Graph User.ManageIdentities.All"]
	}
	if c := check("User.ReadWrite.All"); c.State != steps.CheckOK || c.Detail != "granted through User.ReadWrite.All" {
		t.Errorf("User.ReadWrite.All: %+v", c)
	}
	if c := check("User.ManageIdentities.All"); c.State != steps.CheckOK || c.Detail != "granted" {
		t.Errorf("User.ManageIdentities.All: %+v", c)
	}
	if c := check("User.Read.All", "Organization.ReadWrite.All"); c.State != steps.CheckFailed || !strings.Contains(c.Fix, "User.ManageIdentities.All") {
		t.Errorf("neither: %+v", c)
	}
}
