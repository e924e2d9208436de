package entra

import (
	"context"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/credential"
	"github.com/rebind-dev/rebind/steps/steptest/replay"
)

// These tests hold the entra steps' Graph client against the examples of
// Microsoft's pages (testdata/exchanges/graph, each file citing its page):
// the replay server answers only a request the page documents, as the
// matcher's rules say (steps/steptest/replay), and fails the test naming
// any other. Where a step sends what no page shows, the test declares it
// as a known gap or difference with its reason; those print as KNOWN GAP /
// KNOWN DIFFERENCE lines and are listed in the README.

// documentedUser is the id of the user in the Get user examples.
const documentedUser = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"

// replayClient is a Graph client against a replay server of the named
// exchanges; batch turns on the $batch coalescing of immutable ID writes.
func replayClient(t *testing.T, batch bool, names ...string) (*Client, *replay.Server) {
	t.Helper()
	srv := replay.NewServer(t, replay.TestSchema(t), replay.MustLoad(t, names...)...)
	c, err := NewClient(ClientOptions{GraphURL: srv.URL, Credential: credential.Static("t"), Batch: batch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, srv
}

// TestDocumentedUserRead: entra_user reads the user of Get user's Example
// 1 (its $select is one the page documents, every name a user property of
// the v1.0 schema) and takes what the page shows: the UPN and mail, and no
// on-premises properties, which the example does not return.
func TestDocumentedUserRead(t *testing.T) {
	c, srv := replayClient(t, false, "user-get-1")
	typ, call := dataCall(t, "entra_user", c, map[string]any{"id": documentedUser})
	obs, _ := plan(t, typ, call)
	v := obs.Value
	if got := v.GetAttr("upn").AsString(); got != "AdeleV@contoso.com" {
		t.Errorf("upn = %q, want the page's AdeleV@contoso.com", got)
	}
	if got := v.GetAttr("mail").AsString(); got != "AdeleV@contoso.com" {
		t.Errorf("mail = %q", got)
	}
	if !v.GetAttr("immutable_id").IsNull() || !v.GetAttr("sync_enabled").IsNull() {
		t.Errorf("immutable_id %#v, sync_enabled %#v: the answer has neither, so both must be null", v.GetAttr("immutable_id"), v.GetAttr("sync_enabled"))
	}
	if srv.Served("user-get-1") != 1 {
		t.Errorf("user-get-1 served %d times, want 1", srv.Served("user-get-1"))
	}
}

// TestDocumentedUserList: entra_users sends its $filter, $select and $top
// (options the List users page documents) and reads both users of the
// page's Example 1.
func TestDocumentedUserList(t *testing.T) {
	c, _ := replayClient(t, false, "user-list-1")
	typ, call := dataCall(t, "entra_users", c, map[string]any{"filter": "onPremisesImmutableId eq 'Hrz/HqNKnU+lCNTYHx9Ycw=='"})
	obs, _ := plan(t, typ, call)
	if n := obs.Value.GetAttr("count").AsBigFloat().String(); n != "2" {
		t.Fatalf("count = %s, want the page's 2 users", n)
	}
	byUPN := obs.Value.GetAttr("by_upn")
	for _, upn := range []string{"adams@contoso.com", "admin@contoso.com"} {
		if !byUPN.HasIndex(ctyString(upn)).True() {
			t.Errorf("by_upn has no %s", upn)
		}
	}
}

// TestDocumentedImmutableIDWrite: the immutable ID write is a PATCH of
// onPremisesImmutableId, a property the Update user page's request body
// table lists, answered 204; cleared with an explicit null; and through a
// JSON batch, whose items follow the JSON batching page (relative urls,
// a Content-Type header with each body) and are answered each with the
// documented exchange in the batch envelope.
func TestDocumentedImmutableIDWrite(t *testing.T) {
	ctx := context.Background()
	id := "Hrz/HqNKnU+lCNTYHx9Ycw=="
	c, srv := replayClient(t, false, "user-update-2")
	if err := c.setImmutableID(ctx, documentedUser, &id); err != nil {
		t.Fatalf("set: %v", err)
	}
	if err := c.setImmutableID(ctx, documentedUser, nil); err != nil {
		t.Fatalf("clear: %v", err)
	}
	if srv.Served("user-update-2") != 2 {
		t.Errorf("user-update-2 served %d times, want 2", srv.Served("user-update-2"))
	}

	bc, bsrv := replayClient(t, true, "json-batching", "user-update-2")
	errs := make(chan error, 3)
	for _, u := range []string{"u1", "u2", "u3"} {
		go func() { errs <- bc.setImmutableID(ctx, u, &id) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("batched write: %v", err)
		}
	}
	if bsrv.Served("json-batching") == 0 || bsrv.Served("user-update-2") != 3 {
		t.Errorf("served %d batches and %d writes in them, want at least 1 and 3", bsrv.Served("json-batching"), bsrv.Served("user-update-2"))
	}
}

// TestDocumentedRestoreAndPurge: the restore the v1.0 page documents (no
// body) is answered with the page's group, which the client accepts
// without claiming a user; purging from the recycle bin and deleting a
// user are the 204s of their pages. A restore with
// autoReconcileProxyConflict sends a body only the beta page documents.
func TestDocumentedRestoreAndPurge(t *testing.T) {
	ctx := context.Background()
	c, srv := replayClient(t, false, "directory-deleteditems-restore", "directory-deleteditems-delete", "user-delete")
	u, err := c.restoreUser(ctx, "46cc6179-19d0-473e-97ad-6ff84347bbbb", false, "")
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if u.ID != "46cc6179-19d0-473e-97ad-6ff84347bbbb" || u.UPN != "" {
		t.Errorf("restore read %+v from the page's group answer", u)
	}
	if err := c.purgeUser(ctx, "46cc6179-19d0-473e-97ad-6ff84347bbbb"); err != nil {
		t.Errorf("purge: %v", err)
	}
	if err := c.deleteUser(ctx, documentedUser); err != nil {
		t.Errorf("delete: %v", err)
	}
	srv.Gap("POST", "/v1.0/directory/deletedItems/78bf875b-9343-4edc-9130-0d3958113563/restore",
		"the v1.0 page (commit ab210d5) says to supply no request body; only the beta page documents autoReconcileProxyConflict and newUserPrincipalName")
	if _, err := c.restoreUser(ctx, "78bf875b-9343-4edc-9130-0d3958113563", true, ""); err == nil {
		t.Error("a restore with a body no v1.0 page documents was answered")
	}
}

// TestDocumentedDeletedItemIsAGroup: Get deleted item documents a group.
// The client asks for the deleted item by id with the user $select; the
// page documents $select, but the answer's type in the v1.0 schema is
// directoryObject, which has none of the user's properties, so the matcher
// does not take it for the example: the request is declared a known
// difference and given the page's answer, which the client must refuse as
// "not a user" rather than read as an empty user.
func TestDocumentedDeletedItemIsAGroup(t *testing.T) {
	c, srv := replayClient(t, false, "directory-deleteditems-get")
	srv.Substitute("GET", "/v1.0/directory/deletedItems/46cc6179-19d0-473e-97ad-6ff84347bbbb", "directory-deleteditems-get",
		"$select of user properties on /directory/deletedItems/{id}, whose schema type is directoryObject (no cast segment such as /microsoft.graph.user)")
	_, err := c.deletedUsers(context.Background(), selector{ID: "46cc6179-19d0-473e-97ad-6ff84347bbbb"})
	if err == nil || !strings.Contains(err.Error(), "not a user") {
		t.Fatalf("deletedUsers of the page's group = %v, want a \"not a user\" refusal", err)
	}
	if !steps.IsPermanent(err) {
		t.Errorf("the refusal %v is not permanent", err)
	}
}

// TestDocumentedDeletedUsersByUPN: finding deleted users by UPN lists
// /directory/deletedItems/microsoft.graph.user with a $filter. The List
// deletedItems page names that cast but shows examples of groups only: no
// documented exchange answers it.
func TestDocumentedDeletedUsersByUPN(t *testing.T) {
	c, srv := replayClient(t, false, "directory-deleteditems-list-1", "directory-deleteditems-list-2-count")
	srv.Gap("GET", "/v1.0/directory/deletedItems/graph.user",
		"List deletedItems documents GET /directory/deletedItems/microsoft.graph.user but shows examples for microsoft.graph.group only")
	if _, err := c.deletedUsers(context.Background(), selector{UPN: "AdeleV@contoso.com"}); err == nil {
		t.Error("the deleted-user listing was answered although no page shows it")
	}
}

// TestDocumentedTenantRead: entra_tenant reads the page's organization
// (a tenant whose sync was never turned on: onPremisesSyncEnabled null).
// The sync features are read from /directory/onPremisesSynchronization,
// which the v1.0 schema makes a collection; the page's only example reads
// one object by id on beta. Given that documented object, the client must
// report the features as unknown (null), never as false.
func TestDocumentedTenantRead(t *testing.T) {
	c, srv := replayClient(t, false, "organization-list", "onpremisesdirectorysynchronization-get")
	srv.Substitute("GET", "/v1.0/directory/onPremisesSynchronization", "onpremisesdirectorysynchronization-get",
		"the page's example is GET /beta/directory/onPremisesSynchronization/{id} answering one object; the client lists the v1.0 collection the schema declares")
	tn, err := c.organization(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tn.ID != "84841066-274d-4ec0-a5c1-276be684bdd3" || tn.Name != "Contoso" || strings.Join(tn.Domains, ",") != "Contoso.onmicrosoft.com" {
		t.Errorf("tenant = %+v, want the page's Contoso", tn)
	}
	if tn.SyncEnabled != nil {
		t.Errorf("sync enabled = %v, the page's organization has null (never synced)", *tn.SyncEnabled)
	}
	if tn.SoftMatchBlocked != nil || tn.HardMatchTakeoverBlocked != nil {
		t.Errorf("soft match blocked %v, takeover blocked %v: the collection read of a single documented object must leave them unknown",
			tn.SoftMatchBlocked, tn.HardMatchTakeoverBlocked)
	}
}

// TestDocumentedDirSyncSwitch: turning directory sync off PATCHes
// organization with onPremisesSyncEnabled, a property the Update
// organization page's request body table does not list.
func TestDocumentedDirSyncSwitch(t *testing.T) {
	c, srv := replayClient(t, false, "organization-update")
	srv.Gap("PATCH", "/v1.0/organization/84841066-274d-4ec0-a5c1-276be684bdd3",
		"Update organization's request body table does not list onPremisesSyncEnabled; Set-EntraDirSyncEnabled documents the operation but not its HTTP request")
	if err := c.setDirSync(context.Background(), "84841066-274d-4ec0-a5c1-276be684bdd3", false); err == nil {
		t.Error("the switch was answered although no page documents its body")
	}
}

// TestDocumentedReprovision: entra_user_reprovision asks Entra ID to
// provision the user again. Microsoft maps Redo-MsolProvisionUser to POST
// /users/{id}/retryServiceProvisioning (204, no body); the step's older
// call, reprocessLicenseAssignment, "Reprocess[es] all group-based license
// assignments for the user" and is declared a known difference until the
// step moves (issue 11, item 1). Either way the documented answer must be
// taken as success.
func TestDocumentedReprovision(t *testing.T) {
	c, srv := replayClient(t, false, "user-get-1", "user-retryserviceprovisioning", "user-reprocesslicenseassignment")
	srv.SubstituteOptional("POST", "/v1.0/users/"+documentedUser+"/reprocessLicenseAssignment", "user-reprocesslicenseassignment",
		"the step calls reprocessLicenseAssignment (group-based licensing) where the documented successor of Redo-MsolProvisionUser is retryServiceProvisioning")
	typ, call := newCall(t, "entra_user_reprovision", c, map[string]any{"id": documentedUser}, true)
	_, ch := plan(t, typ, call)
	_, err := typ.Apply(context.Background(), call, ch)
	switch {
	case srv.Served("user-retryserviceprovisioning") == 1 && err == nil:
	case srv.Served("user-reprocesslicenseassignment") == 1 && err != nil && strings.Contains(err.Error(), "UUID"):
		// The page's answer has "skuId": "skuId-value", not a GUID
		// (assignedLicense.skuId is Edm.Guid): the SDK refuses to decode
		// it, so the step fails on the documented answer although Graph
		// did what was asked. retryServiceProvisioning answers 204.
		t.Logf("KNOWN DIFFERENCE: reprocessLicenseAssignment's documented answer fails the step: %v", err)
	default:
		t.Fatalf("apply against the documented answer: %v (retryServiceProvisioning served %d, reprocessLicenseAssignment %d)",
			err, srv.Served("user-retryserviceprovisioning"), srv.Served("user-reprocesslicenseassignment"))
	}
}

// TestDocumentedUserCount: before choosing between filters and one listing,
// bulk observation counts the users as List users' Example 3 does:
// GET /users/$count with ConsistencyLevel: eventual, answered as text.
func TestDocumentedUserCount(t *testing.T) {
	c, srv := replayClient(t, false, "user-list-3-count")
	n, err := c.userCount(context.Background())
	if err != nil || n != 893 {
		t.Fatalf("count = %d, %v; want the page's 893", n, err)
	}
	if srv.Served("user-list-3-count") != 1 {
		t.Errorf("user-list-3-count served %d times, want 1", srv.Served("user-list-3-count"))
	}
}

// TestDocumentedBulkFilter: the filter that reads a fan-out's users
// ('userPrincipalName in (...)' with $select: options List users documents,
// and an operator the user resource lists for userPrincipalName) is a
// GET /users the replay server answers with Example 1's two users, which
// bulk observation then finds by UPN, ignoring case.
func TestDocumentedBulkFilter(t *testing.T) {
	c, srv := replayClient(t, false, "user-list-1")
	f, how, err := c.bulkUsers(context.Background(), []selector{{UPN: "adams@contoso.com"}, {UPN: "ADMIN@contoso.com"}})
	if err != nil || how != "filter" {
		t.Fatalf("bulk read: %s, %v", how, err)
	}
	for _, s := range []selector{{UPN: "adams@contoso.com"}, {UPN: "ADMIN@contoso.com"}, {ID: "4562bcc8-c436-4f95-b7c0-4f8ce89dca5e"}} {
		if _, ok := f.lookup(s); !ok {
			t.Errorf("%s not found in the page's answer", s)
		}
	}
	if srv.Served("user-list-1") != 1 {
		t.Errorf("user-list-1 served %d times, want 1", srv.Served("user-list-1"))
	}
}
