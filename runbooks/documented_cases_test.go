package runbooks_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine/journal"
	labmodel "github.com/rebind-dev/rebind/lab"
)

// The cases in this file are behaviours of a real tenant that the bundled
// scenarios do not show: a runbook either finishes or stops before it
// writes, with the steps Microsoft documents; each is tested both ways.

// refused runs j and checks that the plan stopped with a message holding
// every one of want, and that nothing in the lab changed.
func refused(t *testing.T, l *lab, j job, want ...string) {
	t.Helper()
	before := l.dump()
	_, err := j.run(context.Background(), testLog{t})
	var pe planError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: got %v, want the plan refused", j.Runbook, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: the refusal does not say %q:\n%v", j.Runbook, w, err)
		}
	}
	unchangedExcept(t, before, l.dump(), nil)
}

const frankHolder = "8151336f-4f32-4f15-85cf-552965dc85de"

// frankJob is exchange-guid-in-use for frank, approved past its gate.
func frankJob(l *lab) job {
	j := l.newJob("exchange-guid-in-use", map[string]string{"upn": "frank@contoso.com"})
	j.Approve = []string{`step.approve.purge_mailbox["` + frankHolder + `"]`}
	return j
}

// frankFixed checks that frank's mailbox GUID is free and his error gone.
func frankFixed(t *testing.T, l *lab) {
	t.Helper()
	s := l.dump()
	if e, _ := s.cloudUser(t, "frank@contoso.com", false)["serviceProvisioningErrors"].([]any); len(e) > 0 {
		t.Errorf("frank still has Exchange errors: %v", e)
	}
	if h := s.find("recipients", "UserPrincipalName", "frank.old@contoso.com"); len(h) > 0 {
		t.Errorf("frank.old's mailbox was not purged: %v", h)
	}
}

// TestExchangeGUIDInUseUnderRetentionPolicy: the soft-deleted mailbox is
// also kept by an organization-wide retention policy (InPlaceHolds
// mbx...:2), so releasing its litigation hold would not free it. The
// runbook stops before it writes and says how to remove the mailbox from
// the policy (Set-Mailbox -ExcludeFromOrgHolds,
// learn.microsoft.com/purview/delete-an-inactive-mailbox); once that is
// done it finishes, removing the delay hold the exclusion leaves too.
func TestExchangeGUIDInUseUnderRetentionPolicy(t *testing.T) {
	l := startLab(t, "exchange-guid-in-use-held")
	refused(t, l, frankJob(l), "mbx7cfb30345d454ac0a989ab3041051209:2", "-ExcludeFromOrgHolds", "delete-an-inactive-mailbox")

	if _, err := l.in.Tenant.ExcludeFromOrgHolds(frankHolder, "7cfb30345d454ac0a989ab3041051209"); err != nil {
		t.Fatal(err)
	}
	l.apply(frankJob(l))
	frankFixed(t, l)
}

// TestExchangeGUIDInUseWhileItsUserIsInTheRecycleBin: the mailbox holding
// the GUID belongs to a user still in the Entra recycle bin; it cannot be
// removed until that user is gone. The runbook stops, then finishes once
// the user was purged.
func TestExchangeGUIDInUseWhileItsUserIsInTheRecycleBin(t *testing.T) {
	l := startLab(t, "exchange-guid-in-use")
	const oldID = "62626262-6262-6262-6262-626262626262"
	if _, err := l.in.Tenant.AddCloudUser(labmodel.CloudUser{ID: oldID, UserPrincipalName: "frank.old@contoso.com", AccountEnabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.in.Tenant.DeleteCloudUser(oldID); err != nil {
		t.Fatal(err)
	}
	refused(t, l, frankJob(l), "still in the Entra ID recycle bin", oldID)

	if err := l.in.Tenant.PurgeCloudUser(oldID); err != nil {
		t.Fatal(err)
	}
	rep := l.apply(frankJob(l))
	if rep.Status != journal.StatusSucceeded {
		t.Fatalf("run ended %s", rep.Status)
	}
	frankFixed(t, l)
}

// TestRestoreMistakeWithADuplicate: seed 000 in a tenant with duplicate
// attribute resiliency, every tenant's default. The new AD account was
// provisioned beside the restored user and holds its anchor, so clearing
// the restored user's immutable ID would bind nothing. The runbook stops
// before it writes, naming the duplicate; done as told (the account
// filtered out of sync, a cycle deletes the duplicate, it is purged, the
// account comes back), the runbook finishes and nicki is bound.
func TestRestoreMistakeWithADuplicate(t *testing.T) {
	fsys := scenarioVariant(t, "restore-mistake-dar", func(sc map[string]any) {
		sc["config"].(map[string]any)["syncScope"] = []string{"OU=Users,DC=corp,DC=example,DC=com"}
	})
	l := startLabFrom(t, fsys, "variant")
	s := l.dump()
	newAD := s.adUser(t, "nicki@contoso.com")
	anc := immutableID(t, str(newAD["objectGUID"]))
	var dup map[string]any
	for _, u := range s.find("users", "onPremisesImmutableId", anc) {
		dup = u
	}
	if dup == nil || !strings.HasPrefix(str(dup["userPrincipalName"]), "nicki+") {
		t.Fatalf("the scenario has no duplicate holding %s", anc)
	}
	refused(t, l, restoreMistake(l), "already holds the new AD account's anchor", str(dup["id"]), "Set-ADSyncScheduler")

	// The documented way out, done by hand.
	const dn, parked = "CN=nicki,OU=Users,DC=corp,DC=example,DC=com", "CN=nicki,OU=Parked,DC=corp,DC=example,DC=com"
	if _, err := l.in.Tenant.RenameADUser(dn, parked); err != nil {
		t.Fatal(err)
	}
	l.sync("Delta")
	if code, body := l.do("DELETE", "/v1.0/directory/deletedItems/"+str(dup["id"]), nil); code/100 != 2 {
		t.Fatalf("purge the duplicate: %d %v", code, body)
	}
	if _, err := l.in.Tenant.RenameADUser(parked, dn); err != nil {
		t.Fatal(err)
	}
	l.apply(restoreMistake(l))
	u := l.dump().cloudUser(t, "nicki@contoso.com", false)
	if str(u["onPremisesImmutableId"]) != anc || u["onPremisesSyncEnabled"] != true {
		t.Fatalf("nicki is not bound to the new account: %v", u)
	}
}

// TestRestoreMistakeInAFederatedDomain: nicki's UPN is in a federated
// domain, where Entra ID keeps a user's immutable ID (the lab refuses the
// PATCH as Graph does); the runbook stops before it writes and says to
// move the UPN to a managed domain first. The same scenario with the
// domain managed finishes (TestRestoreMistake).
func TestRestoreMistakeInAFederatedDomain(t *testing.T) {
	fsys := scenarioVariant(t, "restore-mistake", func(sc map[string]any) {
		sc["config"].(map[string]any)["domains"] = []map[string]string{{"name": "contoso.com", "type": "Federated"}}
	})
	l := startLabFrom(t, fsys, "variant")
	refused(t, l, restoreMistake(l), "federated domain", "managed domain", "set-msoluserprincipalname")
}

// rebuiltJob is rebuilt-ad-hard-match for the named users of seed 001.
func rebuiltJob(l *lab, names ...string) job {
	j := l.newJob("rebuilt-ad-hard-match", map[string]string{"ad_filter": upnFilter(names...), "baseline": "baseline.json"})
	j.Approve = []string{`step.approve.purge_stale["stale"]`}
	return j
}

// bound checks that each named user is synced and anchored to its AD
// account.
func bound(t *testing.T, l *lab, names ...string) {
	t.Helper()
	s := l.dump()
	for _, n := range names {
		ad := s.adUser(t, n+"@contoso.com")
		u := s.cloudUser(t, n+"@contoso.com", false)
		if str(u["onPremisesImmutableId"]) != immutableID(t, str(ad["objectGUID"])) || u["onPremisesSyncEnabled"] != true {
			t.Errorf("%s is not bound to its AD account: %v", n, u)
		}
	}
}

// removeDuplicatesAsTold does what the runbooks' refusals tell an admin to
// do with the duplicates duplicate attribute resiliency provisioned (UPNs
// starting with one of prefixes): turn directory sync off, wait until the
// switch-off has completed (72 hours,
// learn.microsoft.com/office365/enterprise/turn-off-directory-synchronization)
// so they are cloud-managed, then delete each and purge it from the
// recycle bin.
func removeDuplicatesAsTold(t *testing.T, l *lab, prefixes ...string) {
	t.Helper()
	tn := l.in.Tenant
	if err := tn.SetDirSyncEnabled(false); err != nil {
		t.Fatal(err)
	}
	if err := tn.Advance(73 * time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, o := range l.dump().list("users") {
		upn := str(o["userPrincipalName"])
		for _, p := range prefixes {
			if !strings.HasPrefix(upn, p) {
				continue
			}
			id := str(o["id"])
			if err := tn.DeleteCloudUser(id); err != nil {
				t.Fatal(err)
			}
			if err := tn.PurgeCloudUser(id); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestRebuiltADWithDuplicates: seed 001 with duplicate attribute
// resiliency. Each re-created account was provisioned beside its cloud
// user and holds the anchor the runbook must write; the runbook stops
// before it writes and names them. Done as told (sync off, the duplicates
// deleted and purged once cloud-managed), it finishes.
func TestRebuiltADWithDuplicates(t *testing.T) {
	l := startLab(t, "rebuilt-ad-dar")
	refused(t, l, rebuiltJob(l, "user04", "user05"), "already hold the anchor of a re-created account", "user04+", "DELETE /directory/deletedItems/{id}")

	removeDuplicatesAsTold(t, l, "user04+", "user05+")
	l.apply(rebuiltJob(l, "user04", "user05"))
	bound(t, l, "user04", "user05")
}

// TestRebuiltADTakeoverBlocked: with
// blockCloudObjectTakeoverThroughHardMatchEnabled on, turning sync back on
// after the users became cloud-managed would leave every one of them
// failing with InvalidHardMatch. The runbook stops before it turns sync
// off; with the feature off it finishes.
func TestRebuiltADTakeoverBlocked(t *testing.T) {
	l := startLab(t, "rebuilt-ad")
	l.in.Tenant.SetHardMatchTakeoverBlocked(true)
	refused(t, l, rebuiltJob(l, "user04"), "blockCloudObjectTakeoverThroughHardMatchEnabled", "onpremisesdirectorysynchronization-update")
	// Without the admin's reading, the app-only token's "unknown" stops
	// the plan with how to give it.
	j := rebuiltJob(l, "user04")
	j.Vars["takeover_blocked"] = ""
	refused(t, l, j, "could not read whether the tenant blocks cloud object takeover", "-var takeover_blocked=no")
	l.in.Tenant.SetHardMatchTakeoverBlocked(false)
	l.apply(rebuiltJob(l, "user04"))
	bound(t, l, "user04")
}

// TestRebuiltADInAFederatedDomain: the users' UPNs are in a federated
// domain, whose users' immutable IDs cannot change; the runbook stops
// before it turns sync off.
func TestRebuiltADInAFederatedDomain(t *testing.T) {
	fsys := scenarioVariant(t, "rebuilt-ad", func(sc map[string]any) {
		sc["config"].(map[string]any)["domains"] = []map[string]string{{"name": "contoso.com", "type": "Federated"}}
	})
	l := startLabFrom(t, fsys, "variant")
	refused(t, l, rebuiltJob(l, "user04"), "federated domain", "user04@contoso.com")
}

// TestRebuiltADVerifiesAliases: sync writes the AD account's
// proxyAddresses over the cloud's, so an alias that was added only in the
// cloud is lost by the re-binding. The runbook's check against its
// baseline fails the run, naming the alias, instead of reporting success.
func TestRebuiltADVerifiesAliases(t *testing.T) {
	fsys := scenarioVariant(t, "rebuilt-ad", func(sc map[string]any) {
		for _, o := range sc["users"].([]any) {
			if u := o.(map[string]any); u["userPrincipalName"] == "user04@contoso.com" {
				u["proxyAddresses"] = append(u["proxyAddresses"].([]any), "smtp:user04.sales@contoso.com")
			}
		}
	})
	l := startLabFrom(t, fsys, "variant")
	rep, err := rebuiltJob(l, "user04").run(context.Background(), testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status == journal.StatusSucceeded || !strings.Contains(fmt.Sprint(rep.Failures), "smtp:user04.sales@contoso.com") {
		t.Fatalf("run ended %s (%+v), want a failure naming the lost alias", rep.Status, rep.Failures)
	}
}

// TestOffboardRelinkWithDuplicates: seed 003 with duplicate attribute
// resiliency. dana's and eli's re-created accounts were provisioned beside
// their orphaned cloud users and hold the anchors the Initial cycle would
// pair; the runbook stops before it writes and names them. Done as told
// (sync off, the duplicates deleted and purged once cloud-managed), it
// finishes and both are paired.
func TestOffboardRelinkWithDuplicates(t *testing.T) {
	l := startLab(t, "offboard-relink-dar")
	refused(t, l, offboardJob(t, l, l.dump()), "already hold the anchor of a re-created account", "dana+", "eli+")

	removeDuplicatesAsTold(t, l, "dana+", "eli+")
	l.apply(offboardJob(t, l, l.dump()))
	bound(t, l, "dana", "eli")
}

// TestOffboardRelinkTakeoverBlocked: re-pairing turns sync off and on
// again, after which blockCloudObjectTakeoverThroughHardMatchEnabled would
// leave every synced user failing with InvalidHardMatch. The runbook stops
// before it writes; with the feature off it finishes.
func TestOffboardRelinkTakeoverBlocked(t *testing.T) {
	l := startLab(t, "offboard-relink")
	l.in.Tenant.SetHardMatchTakeoverBlocked(true)
	refused(t, l, offboardJob(t, l, l.dump()), "blockCloudObjectTakeoverThroughHardMatchEnabled")
	j := offboardJob(t, l, l.dump())
	j.Vars["takeover_blocked"] = ""
	refused(t, l, j, "could not read whether the tenant blocks cloud object takeover", "-var takeover_blocked=no")
	l.in.Tenant.SetHardMatchTakeoverBlocked(false)
	l.apply(offboardJob(t, l, l.dump()))
	bound(t, l, "dana", "eli", "ann")
}

// TestOffboardRelinkInAFederatedDomain: the users to re-pair are in a
// federated domain; their immutable IDs cannot be cleared, and the
// runbook stops before it writes.
func TestOffboardRelinkInAFederatedDomain(t *testing.T) {
	fsys := scenarioVariant(t, "offboard-relink", func(sc map[string]any) {
		sc["config"].(map[string]any)["domains"] = []map[string]string{{"name": "contoso.com", "type": "Federated"}}
	})
	l := startLabFrom(t, fsys, "variant")
	refused(t, l, offboardJob(t, l, l.dump()), "federated domain", "dana@contoso.com")
}

// condition is a documented behaviour of a real tenant put into a
// runbook's own scenario.
type condition struct {
	name string
	// edit changes the scenario file; nil keeps it.
	edit func(sc map[string]any)
	// after changes the running lab once the case is prepared.
	after func(l *lab)
}

var conditions = []condition{
	{name: "duplicate", after: func(l *lab) {
		// Duplicate attribute resiliency: the objects sync could not
		// match are provisioned beside the cloud users at the next cycle.
		l.in.Tenant.SetDuplicateResiliency(true)
		l.sync("Delta")
	}},
	{name: "takeover-blocked", after: func(l *lab) { l.in.Tenant.SetHardMatchTakeoverBlocked(true) }},
	{name: "federated", edit: func(sc map[string]any) {
		sc["config"].(map[string]any)["domains"] = []map[string]string{{"name": "contoso.com", "type": "Federated"}}
	}},
	{name: "retention-hold", edit: func(sc map[string]any) {
		// An organization-wide retention policy holds every mailbox.
		for _, o := range sc["recipients"].([]any) {
			if r := o.(map[string]any); r["RecipientTypeDetails"] == "UserMailbox" {
				r["InPlaceHolds"] = []string{"mbx7cfb30345d454ac0a989ab3041051209:2"}
			}
		}
	}},
}

// TestDocumentedConditions rehearses every bundled runbook against its
// scenario with each condition: a duplicate from duplicate attribute
// resiliency, the hard-match takeover block, a federated domain, a
// retention hold. Each run either finishes or stops before it writes
// (the plan refused, with the documented steps); never midway. The table
// says which, so a change of either kind is seen.
func TestDocumentedConditions(t *testing.T) {
	want := map[string]map[string]string{
		"restore-mistake":       {"duplicate": "refused", "takeover-blocked": "finished", "federated": "refused", "retention-hold": "finished"},
		"rebuilt-ad-hard-match": {"duplicate": "refused", "takeover-blocked": "refused", "federated": "refused", "retention-hold": "finished"},
		"archive-guid-mismatch": {"duplicate": "finished", "takeover-blocked": "finished", "federated": "finished", "retention-hold": "finished"},
		"exchange-guid-in-use":  {"duplicate": "finished", "takeover-blocked": "finished", "federated": "finished", "retention-hold": "refused"},
		"offboard-relink":       {"duplicate": "refused", "takeover-blocked": "refused", "federated": "refused", "retention-hold": "finished"},
		// Its users are synced (no takeover) and keep their immutable IDs
		// (no federated-domain limit); a cycle before it imports the
		// accounts, after which their anchor can no longer change.
		"consistency-guid-carryover": {"duplicate": "refused", "takeover-blocked": "finished", "federated": "finished", "retention-hold": "finished"},
		"hard-match-takeover":        {"duplicate": "refused", "takeover-blocked": "refused", "federated": "refused", "retention-hold": "finished"},
		// Its duplicates exist already; the takeover block and a retention
		// hold do not touch an unlicensed original it deletes.
		"dar-duplicate-cleanup": {"duplicate": "finished", "takeover-blocked": "finished", "federated": "finished", "retention-hold": "finished"},
	}
	for _, c := range cases {
		for _, cond := range conditions {
			t.Run(c.name+"/"+cond.name, func(t *testing.T) {
				var l *lab
				if cond.edit != nil {
					l = startLabFrom(t, scenarioVariant(t, c.scenario, cond.edit), "variant")
				} else {
					l = startLab(t, c.scenario)
				}
				if c.prepare != nil {
					c.prepare(l)
				}
				if cond.after != nil {
					cond.after(l)
				}
				before := l.dump()
				rep, err := c.job(t, l).run(context.Background(), testLog{t})
				got := ""
				var pe planError
				switch {
				case errors.As(err, &pe):
					got = "refused"
					unchangedExcept(t, before, l.dump(), nil)
				case err == nil && rep.Status == journal.StatusSucceeded:
					got = "finished"
				default:
					t.Fatalf("neither finished nor refused before writing: %v %+v", err, rep)
				}
				if got != want[c.name][cond.name] {
					t.Fatalf("%s, want %s (%v)", got, want[c.name][cond.name], err)
				}
			})
		}
	}
}

// TestRebuiltADVerifiesLicenses: seed 001 warns that users can come back
// unlicensed. A license removed while the runbook runs (here right before
// the Initial cycle) is found by the check against the baseline,
// which fails the run naming the skuId.
func TestRebuiltADVerifiesLicenses(t *testing.T) {
	l := startLab(t, "rebuilt-ad")
	u := l.dump().cloudUser(t, "user04@contoso.com", false)
	sku := strs(u["assignedLicenses"])
	if len(sku) == 0 {
		t.Fatal("user04 has no license in the scenario")
	}
	tr := &trigger{t: t, marker: "module.bind.step.adsync_cycle.initial", fn: func() {
		body := map[string]any{"addLicenses": []any{}, "removeLicenses": []string{sku[0]}}
		if code, out := l.do(http.MethodPost, "/v1.0/users/"+str(u["id"])+"/assignLicense", body); code != http.StatusOK {
			t.Errorf("remove the license: %d %v", code, out)
		}
	}}
	rep, err := rebuiltJob(l, "user04").run(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status == journal.StatusSucceeded || !strings.Contains(fmt.Sprint(rep.Failures), sku[0]) || !strings.Contains(fmt.Sprint(rep.Failures), "lost licenses") {
		t.Fatalf("run ended %s (%+v), want a failure naming the lost license %s", rep.Status, rep.Failures, sku[0])
	}
}
