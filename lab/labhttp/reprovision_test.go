package labhttp_test

import (
	"net/http"
	"testing"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

func unresolvedErrors(u lab.CloudUser) int {
	n := 0
	for _, e := range u.ServiceProvisioningErrors {
		if !e.IsResolved {
			n++
		}
	}
	return n
}

// holderOf returns the soft-deleted mail user holding the user's
// ExchangeGuid.
func holderOf(t *testing.T, tn *lab.Tenant, u lab.CloudUser) string {
	t.Helper()
	for _, r := range tn.Recipients(lab.RecipientQuery{Identity: u.Exchange.MailboxGUID.String(), IncludeSoftDeleted: true}) {
		if r.SoftDeleted() && r.RecipientTypeDetails == lab.MailUser {
			return r.ExchangeObjectID
		}
	}
	t.Fatal("no soft-deleted mail user holds the user's ExchangeGuid")
	return ""
}

// POST /users/{id}/retryServiceProvisioning re-runs Exchange provisioning
// (https://learn.microsoft.com/graph/api/user-retryserviceprovisioning: no
// body, 204 No Content): once the recipient holding a user's ExchangeGuid is
// purged, the validation error clears without waiting for a sync cycle.
func TestGraphRetryServiceProvisioning(t *testing.T) {
	tn := load(t, "exchange-guid-in-use")
	srv := labServer(t, tn, labhttp.ServerOptions{})
	erin, err := tn.CloudUser("erin@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	if unresolvedErrors(erin) == 0 || erin.Exchange == nil {
		t.Fatal("the scenario's erin has no Exchange validation error to clear")
	}
	holder := holderOf(t, tn, erin)
	// Before the holder is gone, retrying changes nothing.
	resp := call(t, "POST", srv.URL+"/v1.0/users/"+erin.ID+"/retryServiceProvisioning", nil, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("retryServiceProvisioning: %s, want 204 No Content", resp.Status)
	}
	if still, _ := tn.CloudUser(erin.ID); unresolvedErrors(still) == 0 {
		t.Fatal("the error cleared while the GUID was still held")
	}
	if err := tn.RemoveRecipient(holder, lab.MailUser); err != nil {
		t.Fatal(err)
	}
	resp = call(t, "POST", srv.URL+"/v1.0/users/"+erin.ID+"/retryServiceProvisioning", nil, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("retryServiceProvisioning: %s, want 204 No Content", resp.Status)
	}
	if after, _ := tn.CloudUser(erin.ID); unresolvedErrors(after) != 0 {
		t.Fatalf("erin still has an unresolved Exchange error after the retry: %+v", after.ServiceProvisioningErrors)
	}
	// reprocessLicenseAssignment reprocesses group-based licenses; it is not
	// how a user's provisioning is retried, and the lab does not serve it.
	if resp := call(t, "POST", srv.URL+"/v1.0/users/"+erin.ID+"/reprocessLicenseAssignment", nil, nil); resp.StatusCode < 400 {
		t.Fatalf("reprocessLicenseAssignment answered %s", resp.Status)
	}
}

// A Delta cycle that exports nothing for a user does not have Exchange
// validate it again: after the holder is purged the error stays until a
// documented trigger, here a changed attribute exported by sync (seed 002:
// change the attribute, then "trigger the AADConnect sync, so the changes
// to be synced to the cloud").
func TestExchangeRevalidatesOnlyOnATrigger(t *testing.T) {
	tn := load(t, "exchange-guid-in-use")
	erin, err := tn.CloudUser("erin@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	if unresolvedErrors(erin) == 0 {
		t.Fatal("the scenario's erin has no Exchange validation error")
	}
	if err := tn.RemoveRecipient(holderOf(t, tn, erin), lab.MailUser); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.SyncCycle(lab.Delta); err != nil {
		t.Fatal(err)
	}
	if u, _ := tn.CloudUser(erin.ID); unresolvedErrors(u) == 0 {
		t.Fatal("a Delta cycle that changed nothing on erin cleared her Exchange error")
	}
	if _, err := tn.UpdateADUser(erin.OnPremisesDistinguishedName, func(u *lab.ADUser) { u.DisplayName += " (moved)" }); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.SyncCycle(lab.Delta); err != nil {
		t.Fatal(err)
	}
	if u, _ := tn.CloudUser(erin.ID); unresolvedErrors(u) != 0 {
		t.Fatalf("exporting a change of erin did not have Exchange validate her again: %+v", u.ServiceProvisioningErrors)
	}
}
