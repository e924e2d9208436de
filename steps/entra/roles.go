package entra

import (
	"context"
	"fmt"
	"sort"

	"github.com/microsoftgraph/msgraph-sdk-go/rolemanagement"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// permRoleRead is List unifiedRoleAssignments' least privileged
// application permission for the directory provider
// (learn.microsoft.com/graph/api/rbacapplication-list-roleassignments).
const permRoleRead = "Graph: RoleManagement.Read.Directory"

func init() { steps.RegisterData(roleAssignmentsData{}) }

// roleAssignmentsData is the entra_role_assignments data type.
type roleAssignmentsData struct{}

var roleAssignmentType = cty.Object(map[string]cty.Type{
	"id": cty.String, "principal_id": cty.String, "role_definition_id": cty.String, "directory_scope_id": cty.String,
})

func (roleAssignmentsData) Info() steps.Info {
	return steps.Info{
		Name: "entra_role_assignments",
		Doc: "Reads the directory role assignments of each user named in principal_ids (GET " +
			"/roleManagement/directory/roleAssignments?$filter=principalId eq '{id}'). The value has `assignments` " +
			"(id, principal_id, role_definition_id: the role's template id, directory_scope_id), `by_principal` (every " +
			"id given, with the role_definition_ids it holds, empty when none) and `count`. Entra ID does not match an " +
			"on-premises user to a cloud user that holds an admin role (how-to-connect-install-existing-tenant, " +
			"\"Admin role considerations\"). Active assignments only: eligible (PIM) ones are not read.",
		Kind:   steps.KindData,
		Target: "entra",
		Schema: steps.Schema{
			"principal_ids": {Type: cty.List(cty.String), Required: true, Doc: "The object ids of the users whose role assignments to read."},
		},
		Reversibility: steps.Reversible,
		Permissions:   []string{permRoleRead},
	}
}

func (roleAssignmentsData) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	c, err := client(call)
	if err != nil {
		return steps.Observation{}, err
	}
	ids, ok := steps.Attr(call.Config, "principal_ids")
	if !ok || ids.IsNull() {
		return steps.Observation{}, steps.Permanent(fmt.Errorf("entra: %s: principal_ids is required", call.Address))
	}
	var all []cty.Value
	by := map[string]cty.Value{}
	for it := ids.ElementIterator(); it.Next(); {
		_, v := it.Element()
		if v.IsNull() {
			return steps.Observation{}, steps.Permanent(fmt.Errorf("entra: %s: principal_ids holds a null", call.Address))
		}
		id := v.AsString()
		got, err := c.roleAssignments(ctx, id)
		if err != nil {
			return steps.Observation{}, err
		}
		defs := []cty.Value{}
		for _, a := range got {
			all = append(all, a)
			defs = append(defs, a.GetAttr("role_definition_id"))
		}
		by[id] = listOf(cty.String, defs)
	}
	v := cty.ObjectVal(map[string]cty.Value{
		"assignments":  listOf(roleAssignmentType, all),
		"by_principal": mapOrEmpty(by),
		"count":        cty.NumberIntVal(int64(len(all))),
	})
	return steps.Observation{Object: "entra:roleAssignments", Value: v}, nil
}

// roleAssignments lists one principal's directory role assignments,
// following every page.
func (c *Client) roleAssignments(ctx context.Context, principal string) ([]cty.Value, error) {
	filter := "principalId eq '" + odataQuote(principal) + "'"
	b := c.graph.RoleManagement().Directory().RoleAssignments()
	resp, err := b.Get(ctx, &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetRequestConfiguration{
		QueryParameters: &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetQueryParameters{Filter: &filter},
	})
	var out []cty.Value
	for {
		if err != nil {
			return nil, wrap(err, "list the role assignments of "+principal)
		}
		for _, a := range resp.GetValue() {
			out = append(out, cty.ObjectVal(map[string]cty.Value{
				"id":                 cty.StringVal(deref(a.GetId())),
				"principal_id":       cty.StringVal(deref(a.GetPrincipalId())),
				"role_definition_id": cty.StringVal(deref(a.GetRoleDefinitionId())),
				"directory_scope_id": ptrString(a.GetDirectoryScopeId()),
			}))
		}
		next := resp.GetOdataNextLink()
		if next == nil || *next == "" {
			break
		}
		resp, err = b.WithUrl(*next).Get(ctx, nil)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].GetAttr("role_definition_id").AsString() < out[j].GetAttr("role_definition_id").AsString()
	})
	return out, nil
}

// mapOrEmpty is a map value, or an empty map of string lists.
func mapOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.MapValEmpty(cty.List(cty.String))
	}
	return cty.MapVal(m)
}
