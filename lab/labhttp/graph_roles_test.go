package labhttp_test

import (
	"testing"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// TestRoleAssignments: GET /roleManagement/directory/roleAssignments lists
// a user's directory roles as assignments of the role's template id at the
// tenant scope, with $filter=principalId eq '{id}' (List
// unifiedRoleAssignments, Example 2); an app without one of the page's
// permissions gets 403; another filter is refused.
func TestRoleAssignments(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{})
	admin, err := o.in.Tenant.CloudUser("admin@contoso.onmicrosoft.com")
	if err != nil {
		t.Fatal(err)
	}
	tok := o.token(labhttp.GraphResource)
	code, out := o.do("GET", "/v1.0/roleManagement/directory/roleAssignments?$filter=principalId%20eq%20'"+admin.ID+"'", tok, nil)
	if code != 200 {
		t.Fatalf("list: %d %v", code, out)
	}
	v, _ := out["value"].([]any)
	if len(v) != 1 {
		t.Fatalf("the admin's assignments: %v, want one", out)
	}
	a := v[0].(map[string]any)
	if a["principalId"] != admin.ID || a["roleDefinitionId"] != labhttp.RoleGlobalAdministrator || a["directoryScopeId"] != "/" || a["id"] == "" {
		t.Errorf("assignment %v, want the Global Administrator template at /", a)
	}
	// A user with no role has none.
	u, _ := o.in.Tenant.CloudUser("user00003@contoso.com")
	if code, out := o.do("GET", "/v1.0/roleManagement/directory/roleAssignments?$filter=principalId%20eq%20'"+u.ID+"'", tok, nil); code != 200 || len(out["value"].([]any)) != 0 {
		t.Errorf("a user without roles: %d %v", code, out)
	}
	// Unfiltered: every assignment of the tenant (the one admin).
	if code, out := o.do("GET", "/v1.0/roleManagement/directory/roleAssignments", tok, nil); code != 200 || len(out["value"].([]any)) != 1 {
		t.Errorf("unfiltered: %d %v", code, out)
	}
	if code, out := o.do("GET", "/v1.0/roleManagement/directory/roleAssignments?$filter=roleDefinitionId%20ne%20'x'", tok, nil); code != 400 {
		t.Errorf("an unsupported filter: %d %v, want 400", code, out)
	}
	reader := lab.App{Name: "reader", ClientID: "0b6e3c52-5d0a-4c7b-9d8e-1f2a3b4c5d6e", Secret: "reader-secret", Roles: []string{"User.Read.All"}}
	o = startOutside(t, "healthy", labhttp.ServerOptions{Apps: []lab.App{reader}})
	_, tout := o.appToken(reader.ClientID, reader.Secret, labhttp.GraphResource)
	if code, out := o.do("GET", "/v1.0/roleManagement/directory/roleAssignments", tout["access_token"].(string), nil); code != 403 || errCode(out) != "Authorization_RequestDenied" {
		t.Errorf("User.Read.All only: %d %v, want 403", code, out)
	}
}
