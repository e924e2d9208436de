package labhttp

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/lab"
)

// permReadRoleAssignments is the permission table of List
// unifiedRoleAssignments for the directory provider (least privileged
// first; https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignments).
var permReadRoleAssignments = permission{
	app:       []string{"RoleManagement.Read.Directory", "RoleManagement.Read.All", "Directory.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.ReadWrite.All"},
	delegated: []string{"RoleManagement.Read.Directory", "RoleManagement.Read.All", "Directory.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.ReadWrite.All"},
	page:      "https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignments",
}

// roleTemplateIDs maps the built-in role names a lab user's DirectoryRoles
// holds to their template ids, the roleDefinitionId of a directory role
// assignment (Microsoft Entra built-in roles,
// https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/permissions-reference).
var roleTemplateIDs = map[string]string{
	"Global Administrator":               RoleGlobalAdministrator,
	"Hybrid Identity Administrator":      RoleHybridIdentityAdministrator,
	"Directory Synchronization Accounts": RoleDirectorySynchronizationAcct,
	"User Administrator":                 RoleUserAdministrator,
	"Exchange Administrator":             RoleExchangeAdministrator,
}

// graphRoleAssignment is a unifiedRoleAssignment with the v1.0 properties
// the lab answers (the schema has no resourceScope, which the page's
// examples show).
type graphRoleAssignment struct {
	ID               string `json:"id"`
	PrincipalID      string `json:"principalId"`
	DirectoryScopeID string `json:"directoryScopeId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
}

// listRoleAssignments serves GET /roleManagement/directory/roleAssignments:
// every active user's directory roles as tenant-wide ("/") assignments, or
// with $filter=principalId eq '{id}' one user's (the page's Example 2). The
// lab models no groups, scopes or eligible (PIM) assignments.
func (s *Server) listRoleAssignments(w http.ResponseWriter, r *http.Request) {
	principal := ""
	if f := r.URL.Query().Get("$filter"); f != "" {
		m := filterClause.FindStringSubmatch(f)
		if m == nil || !strings.EqualFold(m[1], "principalId") {
			writeError(w, http.StatusBadRequest, "Request_BadRequest",
				fmt.Sprintf("Unsupported or invalid query filter clause specified: %q; the lab supports \"principalId eq 'id'\".", f))
			return
		}
		principal = strings.ReplaceAll(m[2], "''", "'")
	}
	users, _ := s.t.CloudUsers(lab.CloudQuery{})
	out := []graphRoleAssignment{}
	for _, u := range users {
		if principal != "" && !strings.EqualFold(u.ID, principal) {
			continue
		}
		roles := append([]string(nil), u.DirectoryRoles...)
		sort.Strings(roles)
		for _, name := range roles {
			def, ok := roleTemplateIDs[name]
			if !ok {
				writeError(w, http.StatusInternalServerError, "generalException",
					fmt.Sprintf("lab: user %s holds the directory role %q, which the lab has no template id for", u.ID, name))
				return
			}
			out = append(out, graphRoleAssignment{ID: assignmentID(def, u.ID), PrincipalID: u.ID, DirectoryScopeID: "/", RoleDefinitionID: def})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": baseURL(r) + "/v1.0/$metadata#roleManagement/directory/roleAssignments",
		"value":          out,
	})
}

// assignmentID is the lab's id of a role assignment. No page documents
// the form of an id; the page's examples look like the base64url of the
// role definition's and the principal's GUIDs (AD byte order) and "-1",
// and the lab makes its ids that way.
func assignmentID(def, principal string) string {
	part := func(s string) string {
		g, err := anchor.ParseGUID(s)
		if err != nil {
			return s
		}
		return base64.RawURLEncoding.EncodeToString(g.Bytes())
	}
	return part(def) + part(principal) + "-1"
}
