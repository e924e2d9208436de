package entra

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// snapshotSelect is the $select of rebind snapshot's user listing
// (snapshot/take.go's userSelect): every name a user property of the v1.0
// schema, which the replay server checks.
const snapshotSelect = "id,displayName,userPrincipalName,mail,mailNickname,proxyAddresses,accountEnabled,onPremisesImmutableId," +
	"onPremisesSyncEnabled,onPremisesLastSyncDateTime,onPremisesDistinguishedName,onPremisesSamAccountName," +
	"onPremisesUserPrincipalName,assignedLicenses,lastPasswordChangeDateTime,onPremisesProvisioningErrors," +
	"serviceProvisioningErrors,createdDateTime,deletedDateTime"

// TestDocumentedBulkReads holds the bulk reads of rebind snapshot against
// the pages' examples: GET /users with $select and $top=999 (options List
// users documents), GET /organization, and the v1.0 collection of
// onPremisesSynchronization (served the page's beta example, as for
// entra_tenant). The deleted-user listing is the known gap of
// TestDocumentedDeletedUsersByUPN.
func TestDocumentedBulkReads(t *testing.T) {
	c, srv := replayClient(t, false, "user-list-1", "organization-list", "onpremisesdirectorysynchronization-get")
	srv.Substitute("GET", "/v1.0/directory/onPremisesSynchronization", "onpremisesdirectorysynchronization-get",
		"the page's example is GET /beta/directory/onPremisesSynchronization/{id} answering one object; the snapshot lists the v1.0 collection the schema declares")
	srv.Gap("GET", "/v1.0/directory/deletedItems/microsoft.graph.user",
		"List deletedItems documents GET /directory/deletedItems/microsoft.graph.user but shows examples for microsoft.graph.group only")
	ctx := context.Background()
	var upns []string
	n, err := c.ReadPages(ctx, "/users?$select="+snapshotSelect+"&$top=999", func(vs []json.RawMessage, _ time.Time) error {
		for _, v := range vs {
			var u struct {
				UserPrincipalName string `json:"userPrincipalName"`
			}
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			upns = append(upns, u.UserPrincipalName)
		}
		return nil
	})
	if err != nil || n != 1 || strings.Join(upns, ",") != "Adams@contoso.com,admin@contoso.com" {
		t.Errorf("users: %d requests, %v, %v; want the page's two users in one request", n, upns, err)
	}
	var orgs int
	if _, err := c.ReadPages(ctx, "/organization", func(vs []json.RawMessage, _ time.Time) error { orgs += len(vs); return nil }); err != nil || orgs != 1 {
		t.Errorf("organization: %d, %v", orgs, err)
	}
	var feats int
	if _, err := c.ReadPages(ctx, "/directory/onPremisesSynchronization", func(vs []json.RawMessage, _ time.Time) error { feats += len(vs); return nil }); err != nil {
		t.Errorf("onPremisesSynchronization: %v", err)
	}
	if _, err := c.ReadPages(ctx, "/directory/deletedItems/microsoft.graph.user?$top=999", func([]json.RawMessage, time.Time) error { return nil }); err == nil {
		t.Error("the deleted-user listing was answered although no page shows it")
	}
}
