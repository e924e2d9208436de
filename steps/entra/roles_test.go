package entra

import (
	"testing"

	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/zclconf/go-cty/cty"
)

// TestDocumentedRoleAssignments: entra_role_assignments sends List
// unifiedRoleAssignments' Example 2, $filter=principalId eq '{id}', and
// reads both of the page's assignments.
func TestDocumentedRoleAssignments(t *testing.T) {
	c, srv := replayClient(t, false, "rbacapplication-list-roleassignments-2")
	const principal = "5bde3e51-d13b-4db1-9948-fe4b109d11a7"
	typ, call := dataCall(t, "entra_role_assignments", c, map[string]any{"principal_ids": []string{principal}})
	obs, _ := plan(t, typ, call)
	defs := obs.Value.GetAttr("by_principal").Index(cty.StringVal(principal))
	if defs.LengthInt() != 2 || defs.Index(cty.NumberIntVal(0)).AsString() != "62e90394-69f5-4237-9190-012177145e10" ||
		defs.Index(cty.NumberIntVal(1)).AsString() != "f2ef992c-3afb-46b9-b7cf-a126ee74c451" {
		t.Errorf("by_principal = %#v, want the page's two role definitions", defs)
	}
	a := obs.Value.GetAttr("assignments").Index(cty.NumberIntVal(0))
	if a.GetAttr("directory_scope_id").AsString() != "/" || a.GetAttr("id").AsString() != "lAPpYvVpN0KRkAEhdxReEHJ1hPGqSKpHlqMuxhkE9B8-1" {
		t.Errorf("assignment = %#v", a)
	}
	if srv.Served("rbacapplication-list-roleassignments-2") != 1 {
		t.Errorf("served %d times, want 1", srv.Served("rbacapplication-list-roleassignments-2"))
	}
}

// TestRoleAssignmentsAgainstTheLab: the healthy scenario's cloud-only
// admin holds Global Administrator; a synced user holds no role.
func TestRoleAssignmentsAgainstTheLab(t *testing.T) {
	tn, _, srv := labTenant(t, "healthy", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	admin, _ := tn.CloudUser("admin@contoso.onmicrosoft.com")
	user, _ := tn.CloudUser("user00003@contoso.com")
	typ, call := dataCall(t, "entra_role_assignments", c, map[string]any{"principal_ids": []string{admin.ID, user.ID}})
	obs, _ := plan(t, typ, call)
	by := obs.Value.GetAttr("by_principal")
	if d := by.Index(cty.StringVal(admin.ID)); d.LengthInt() != 1 || d.Index(cty.NumberIntVal(0)).AsString() != labhttp.RoleGlobalAdministrator {
		t.Errorf("the admin's roles: %#v", d)
	}
	if d := by.Index(cty.StringVal(user.ID)); d.LengthInt() != 0 {
		t.Errorf("user00003's roles: %#v, want none", d)
	}
	if n := obs.Value.GetAttr("count").AsBigFloat().String(); n != "1" {
		t.Errorf("count = %s", n)
	}
}
