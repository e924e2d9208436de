package runbooks_test

import (
	"strings"
	"testing"

	labmodel "github.com/rebind-dev/rebind/lab"
)

// TestDeletedUPNPrefix rehearses every bundled runbook that reads, deletes,
// restores or purges users in the Entra recycle bin against its scenario in
// a lab whose deleted users show their UPN prefixed with their object id
// without dashes (lab Config.DeletedUPNPrefix), with the same end-state
// checks as the tests it runs. No Microsoft page documents either form (the
// CLI for Microsoft 365's recyclebinitem list sample and
// msgraph-sdk-powershell#2256 show the prefix; the lab keeps the UPN by
// default), so rebind must work against both. startLabFrom turns the
// option on for every lab a subtest of this test starts.
func TestDeletedUPNPrefix(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"ScenarioShowsThePrefix", scenarioShowsThePrefix},
		// restore-mistake: finds the user in the recycle bin by UPN,
		// restores it, clears its anchor.
		{"TestRestoreMistake", TestRestoreMistake},
		{"TestRestoreMistakeWithADuplicate", TestRestoreMistakeWithADuplicate},
		{"TestRestoreMistakeWithoutTheOriginalObject", TestRestoreMistakeWithoutTheOriginalObject},
		// exchange-guid-in-use: the recycle-bin user of the mailbox
		// holding the GUID stops the run until it is purged.
		{"TestExchangeGUIDInUseWhileItsUserIsInTheRecycleBin", TestExchangeGUIDInUseWhileItsUserIsInTheRecycleBin},
		{"TestExchangeGUIDInUse", TestExchangeGUIDInUse},
		// dar-duplicate-cleanup: deletes the originals (entra_user_deleted)
		// and purges them.
		{"TestDARDuplicateCleanup", TestDARDuplicateCleanup},
		{"TestDARCleanupOfAnOriginalInTheRecycleBin", TestDARCleanupOfAnOriginalInTheRecycleBin},
		// rebuilt-ad-hard-match: purges stale users in the recycle bin
		// that hold the new accounts' addresses, leaves others.
		{"TestRebuiltADHardMatch", TestRebuiltADHardMatch},
		{"TestRebuiltADPurgesAStaleUserHoldingOnlyTheUPN", TestRebuiltADPurgesAStaleUserHoldingOnlyTheUPN},
		// consistency-guid-carryover and hard-match-takeover list the
		// recycle bin (deleted = true) for anchor holders.
		{"TestConsistencyGUIDCarryover", TestConsistencyGUIDCarryover},
		{"TestHardMatchTakeover", TestHardMatchTakeover},
		// offboard-relink: turns sync off and on around users whose AD
		// object is gone.
		{"TestOffboardRelink", TestOffboardRelink},
	} {
		t.Run(tc.name, tc.run)
	}
}

// deletedUPNPrefixed reports whether t runs under TestDeletedUPNPrefix.
func deletedUPNPrefixed(t *testing.T) bool {
	return strings.HasPrefix(t.Name(), "TestDeletedUPNPrefix/")
}

// scenarioShowsThePrefix checks the option took: restore-mistake's user in
// the recycle bin shows <id without dashes>nicki@contoso.com over Graph, and
// a $filter on its UPN by eq finds nothing.
func scenarioShowsThePrefix(t *testing.T) {
	l := startLab(t, "restore-mistake")
	nicki := l.dump().cloudUser(t, "nicki@contoso.com", true)
	id := str(nicki["id"])
	want := strings.ReplaceAll(id, "-", "") + "nicki@contoso.com"
	if got := str(nicki["userPrincipalName"]); got != want {
		t.Fatalf("deleted nicki's UPN %q, want %q", got, want)
	}
	code, body := l.do("GET", "/v1.0/directory/deletedItems/"+id, nil)
	if code != 200 || str(body["userPrincipalName"]) != want {
		t.Fatalf("GET deletedItems/%s: %d %v", id, code, body)
	}
	code, body = l.do("GET", "/v1.0/directory/deletedItems/microsoft.graph.user?$filter=userPrincipalName%20eq%20'nicki@contoso.com'", nil)
	if l, _ := body["value"].([]any); code != 200 || len(l) != 0 {
		t.Fatalf("$filter eq on the original UPN: %d %v, want none", code, body)
	}
}

// TestDARCleanupOfAnOriginalInTheRecycleBin: ola's AD account was
// provisioned beside a cloud-only user holding only its UPN (no address),
// and that user was deleted since: the duplicate's UPN stays quarantined
// while the user in the recycle bin holds it. dar-duplicate-cleanup finds
// it by the UPN it conflicts on, whichever form the recycle bin shows it
// in (run again by TestDeletedUPNPrefix with the object-id prefix), purges
// it, and the duplicate gets its UPN back with no conflict left.
func TestDARCleanupOfAnOriginalInTheRecycleBin(t *testing.T) {
	l := startLab(t, "cloud-only-dar")
	orig, err := l.in.Tenant.AddCloudUser(labmodel.CloudUser{UserPrincipalName: "ola@contoso.com", DisplayName: "ola", AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.in.Tenant.AddADUser(labmodel.ADUser{DN: "CN=ola,OU=Users,DC=corp,DC=example,DC=com", SAMAccountName: "ola",
		UserPrincipalName: "ola@contoso.com", DisplayName: "ola"}); err != nil {
		t.Fatal(err)
	}
	l.sync("Initial")
	if err := l.in.Tenant.DeleteCloudUser(orig.ID); err != nil {
		t.Fatal(err)
	}
	if code, body := l.do("POST", "/lab/clock?advance=2h", nil); code != 200 {
		t.Fatalf("clock: %d %v", code, body)
	}
	before := l.dump()
	dup := duplicateOf(t, before, "ola@contoso.com")
	if !strings.HasPrefix(str(dup["userPrincipalName"]), "ola+") {
		t.Fatalf("ola's duplicate before the fix: %v", dup)
	}
	before.cloudUser(t, "ola@contoso.com", true)

	l.apply(darJob(l, "ola"))
	after := l.dump()
	u := after.cloudUser(t, "ola@contoso.com", false)
	if str(u["id"]) != str(dup["id"]) || u["onPremisesSyncEnabled"] != true {
		t.Errorf("ola@contoso.com is %v, want the synced duplicate %s", u, dup["id"])
	}
	if e, _ := u["onPremisesProvisioningErrors"].([]any); len(e) > 0 {
		t.Errorf("ola still has conflicts: %v", e)
	}
	for _, o := range after.list("users") {
		if str(o["id"]) == orig.ID {
			t.Errorf("the original is still there: %v", o)
		}
	}
	unchangedExcept(t, before, after, func(k string, o map[string]any) bool {
		id := strings.TrimPrefix(k, "user:")
		return k == "organization" || id == orig.ID || id == str(dup["id"])
	})
}

// TestRebuiltADPurgesAStaleUserHoldingOnlyTheUPN: seed 001 with a user in
// the recycle bin that holds user05's UPN and no address (deleted before
// user05 was created again under that UPN). Sync quarantines the UPN while
// it holds it, so rebuilt-ad-hard-match must purge it as stale, finding it
// by the UPN it had whichever form the recycle bin shows (run again by
// TestDeletedUPNPrefix with the object-id prefix).
func TestRebuiltADPurgesAStaleUserHoldingOnlyTheUPN(t *testing.T) {
	const staleID = "7a7a7a7a-7a7a-4a7a-8a7a-7a7a7a7a7a7a"
	fsys := scenarioVariant(t, "rebuilt-ad", func(sc map[string]any) {
		sc["users"] = append(sc["users"].([]any), map[string]any{"id": staleID, "userPrincipalName": "user05@contoso.com",
			"accountEnabled": true, "onPremisesSyncEnabled": nil, "createdDateTime": "2026-07-01T09:00:00Z", "deletedDateTime": "2026-07-20T09:00:00Z"})
	})
	l := startLabFrom(t, fsys, "variant")
	l.dump().cloudUser(t, "user05@contoso.com", true)
	l.apply(rebuiltJob(l, "user05"))
	bound(t, l, "user05")
	s := l.dump()
	for _, o := range s.list("users") {
		if str(o["id"]) == staleID {
			t.Errorf("the stale user holding user05's UPN is still in the recycle bin: %v", o)
		}
	}
	if e, _ := s.cloudUser(t, "user05@contoso.com", false)["onPremisesProvisioningErrors"].([]any); len(e) > 0 {
		t.Errorf("user05 has conflicts: %v", e)
	}
}
