package runbooks_test

import (
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/anchor"
	labmodel "github.com/rebind-dev/rebind/lab"
)

// movedUsers are the users of the forest-move scenario.
var movedUsers = []string{"ada", "bea", "cal", "dot", "eve", "gus"}

func carryoverJob(l *lab) job {
	return l.newJob("consistency-guid-carryover", map[string]string{"ad_filter": upnFilter(movedUsers...), "baseline": "baseline.json"})
}

// TestConsistencyGUIDCarryover: the new forest's accounts carry their cloud
// users' anchors in mS-DS-ConsistencyGuid, which Connect uses as the source
// anchor when it is set (learn.microsoft.com/entra/identity/hybrid/connect/
// plan-connect-design-concepts#using-ms-ds-consistencyguid-as-sourceanchor),
// so the new server's first cycle hard matches every user to its old cloud
// user, with directory sync left on and no immutable ID changed.
func TestConsistencyGUIDCarryover(t *testing.T) {
	// The failure, on a lab of its own (a cycle imports the accounts,
	// after which their anchor can no longer change): without the carry-
	// over the first cycle cannot match any moved user, and duplicate
	// attribute resiliency provisions each new account beside its cloud
	// user, holding the new objectGUID's anchor.
	bare := startLab(t, "forest-move")
	bare.sync("Initial")
	s := bare.dump()
	provisionedBeside(t, s, "after a first cycle without the carry-over", movedUsers...)
	if errs := s.lastErrors(); len(errs) == 0 || str(errs[0]["code"]) != "AttributeValueMustBeUnique" {
		t.Fatalf("the first cycle without the carry-over reports %v, want the quarantined values", errs)
	}

	l := startLab(t, "forest-move")
	before := l.dump()
	if l.in.Tenant.Scheduler().SyncCycleEnabled {
		t.Fatal("the scenario's Connect scheduler runs; the new server is installed held")
	}
	org := before["organization"].(map[string]any)
	rep := l.apply(carryoverJob(l))
	if rep.Status != "succeeded" {
		t.Fatalf("run ended %s", rep.Status)
	}
	after := l.dump()
	last, _ := l.in.Tenant.LastSync()
	for _, n := range movedUsers {
		upn := n + "@contoso.com"
		was := before.cloudUser(t, upn, false)
		u := after.cloudUser(t, upn, false)
		ad := after.adUser(t, upn)
		if str(u["id"]) != str(was["id"]) {
			t.Errorf("%s is cloud user %s, want its old %s", upn, u["id"], was["id"])
		}
		if str(u["onPremisesImmutableId"]) != str(was["onPremisesImmutableId"]) {
			t.Errorf("%s: immutable ID %q, want it unchanged (%q)", upn, u["onPremisesImmutableId"], was["onPremisesImmutableId"])
		}
		g, err := anchor.FromImmutableID(str(was["onPremisesImmutableId"]))
		if err != nil {
			t.Fatal(err)
		}
		if str(ad["mS-DS-ConsistencyGuid"]) != g.String() {
			t.Errorf("%s: mS-DS-ConsistencyGuid %v, want the old anchor's %s", upn, ad["mS-DS-ConsistencyGuid"], g)
		}
		if str(ad["objectGUID"]) == g.String() {
			t.Errorf("%s: the new account has the old objectGUID: the scenario did not re-create it", upn)
		}
		if u["onPremisesSyncEnabled"] != true || str(u["onPremisesLastSyncDateTime"]) == str(was["onPremisesLastSyncDateTime"]) {
			t.Errorf("%s: synced %v at %v, want synced by the new server's cycle (%s)", upn, u["onPremisesSyncEnabled"], u["onPremisesLastSyncDateTime"], last.Started)
		}
		if e, _ := u["onPremisesProvisioningErrors"].([]any); len(e) > 0 {
			t.Errorf("%s has provisioning errors: %v", upn, e)
		}
		if len(strs(u["assignedLicenses"])) != len(strs(was["assignedLicenses"])) {
			t.Errorf("%s: licenses %v, had %v", upn, u["assignedLicenses"], was["assignedLicenses"])
		}
	}
	if errs := after.lastErrors(); len(errs) > 0 || last.Policy != labmodel.Initial {
		t.Errorf("the new server's cycle: %s, errors %v", last.Policy, errs)
	}
	// Directory sync was never switched.
	if a := after["organization"].(map[string]any); a["onPremisesSyncEnabled"] != org["onPremisesSyncEnabled"] {
		t.Errorf("directory sync changed: %v -> %v", org["onPremisesSyncEnabled"], a["onPremisesSyncEnabled"])
	}
	if !l.in.Tenant.Scheduler().SyncCycleEnabled {
		t.Error("the scheduler is still held after the run")
	}
	// A Delta cycle afterwards keeps every user bound, with no error.
	l.sync("Delta")
	if errs := l.dump().lastErrors(); len(errs) > 0 {
		t.Errorf("a Delta cycle after the run: %v", errs)
	}
	// Only the moved users' AD accounts (their anchor) and cloud users
	// (the new server's export, last sync time) changed, and the
	// organization's last sync; no mailbox, no other user.
	unchangedExcept(t, before, after, func(k string, o map[string]any) bool {
		if k == "organization" {
			return true
		}
		upn := strings.ToLower(str(o["userPrincipalName"]))
		if strings.HasPrefix(k, "recipient:") {
			return false
		}
		for _, n := range movedUsers {
			if upn == n+"@contoso.com" {
				return true
			}
		}
		return false
	})
}

// TestConsistencyGUIDCarryoverRefuses: the cases where writing the anchor
// would be wrong or useless stop the plan, naming what was found, before
// anything is written.
func TestConsistencyGUIDCarryoverRefuses(t *testing.T) {
	t.Run("imported already", func(t *testing.T) {
		// seed 001's state: the new server ran and failed its exports.
		l := startLab(t, "rebuilt-ad")
		l.sync("Initial")
		j := l.newJob("consistency-guid-carryover", map[string]string{"ad_filter": upnFilter(rebuiltUsers...)})
		refused(t, l, j, "Connect has already imported these new accounts")
	})
	t.Run("duplicate provisioned", func(t *testing.T) {
		l := startLab(t, "rebuilt-ad-dar")
		j := l.newJob("consistency-guid-carryover", map[string]string{"ad_filter": upnFilter(rebuiltUsers...)})
		refused(t, l, j, "user01+")
	})
	t.Run("scheduler running", func(t *testing.T) {
		l := startLab(t, "forest-move")
		l.in.Tenant.SetSchedulerEnabled(true)
		refused(t, l, carryoverJob(l), "scheduler is running")
	})
	t.Run("consistency guid taken", func(t *testing.T) {
		l := startLab(t, "forest-move")
		other, _ := anchor.ParseGUID("0b0b0b0b-0b0b-0b0b-0b0b-0b0b0b0b0b0b")
		if _, err := l.in.Tenant.UpdateADUser("CN=bea,OU=Users,DC=corp,DC=example,DC=com", func(u *labmodel.ADUser) { u.ConsistencyGUID = other }); err != nil {
			t.Fatal(err)
		}
		refused(t, l, carryoverJob(l), "bea@contoso.com (0b0b0b0b-0b0b-0b0b-0b0b-0b0b0b0b0b0b)")
	})
	t.Run("old account still here", func(t *testing.T) {
		// cal's old account was not moved away: it still holds the anchor.
		l := startLab(t, "forest-move")
		cal := l.dump().cloudUser(t, "cal@contoso.com", false)
		g, err := anchor.FromImmutableID(str(cal["onPremisesImmutableId"]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.in.Tenant.AddADUser(labmodel.ADUser{DN: "CN=cal-old,OU=Disabled,DC=corp,DC=example,DC=com", ObjectGUID: g,
			SAMAccountName: "cal-old", UserPrincipalName: "cal-old@contoso.com"}); err != nil {
			t.Fatal(err)
		}
		refused(t, l, carryoverJob(l), "CN=cal-old,OU=Disabled,DC=corp,DC=example,DC=com holds")
	})
	t.Run("cloud-only user", func(t *testing.T) {
		l := startLab(t, "forest-move")
		if _, err := l.in.Tenant.AddCloudUser(labmodel.CloudUser{UserPrincipalName: "hal@contoso.com", ProxyAddresses: []string{"SMTP:hal@contoso.com"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.in.Tenant.AddADUser(labmodel.ADUser{DN: "CN=hal,OU=Users,DC=corp,DC=example,DC=com", SAMAccountName: "hal",
			UserPrincipalName: "hal@contoso.com", Mail: "hal@contoso.com", ProxyAddresses: []string{"SMTP:hal@contoso.com"}}); err != nil {
			t.Fatal(err)
		}
		j := l.newJob("consistency-guid-carryover", map[string]string{"ad_filter": "(userPrincipalName=hal@contoso.com)"})
		refused(t, l, j, "hard-match-takeover")
	})
}
