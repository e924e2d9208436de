package runbooks_test

import (
	"context"
	"strings"
	"testing"

	labmodel "github.com/rebind-dev/rebind/lab"
)

func darJob(l *lab, names ...string) job {
	var q []string
	for _, n := range names {
		q = append(q, `"`+n+`@contoso.com"`)
	}
	j := l.newJob("dar-duplicate-cleanup", map[string]string{"accounts": "[" + strings.Join(q, ", ") + "]", "baseline": "baseline.json"})
	j.Approve = []string{`step.approve.remove_originals["originals"]`}
	return j
}

// duplicateOf is the cloud user holding the AD account's anchor.
func duplicateOf(t *testing.T, s state, upn string) map[string]any {
	t.Helper()
	ad := s.adUser(t, upn)
	l := s.find("users", "onPremisesImmutableId", immutableID(t, str(ad["objectGUID"])))
	if len(l) != 1 {
		t.Fatalf("%s: %d cloud users hold its anchor, want 1: %v", upn, len(l), l)
	}
	return l[0]
}

// provisionedBeside fails the test unless, in s, each named user's AD
// account was provisioned as a second cloud user beside its own: duplicate
// attribute resiliency quarantines the UPN as NAME+NNNN@ the initial
// domain, and that cloud user holds the account's anchor
// (learn.microsoft.com/entra/identity/hybrid/connect/
// how-to-connect-syncservice-duplicate-attribute-resiliency). when says
// after what.
func provisionedBeside(t *testing.T, s state, when string, names ...string) {
	t.Helper()
	for _, n := range names {
		if d := duplicateOf(t, s, n+"@contoso.com"); !strings.HasPrefix(str(d["userPrincipalName"]), n+"+") {
			t.Fatalf("%s %s: %v, want a duplicate %s+NNNN", n, when, d, n)
		}
	}
}

// TestDARDuplicateCleanup: mia's and noah's AD accounts were provisioned
// beside their unlicensed cloud-only users; the duplicates survive (they
// are bound to the accounts), the originals are deleted and purged, and
// after the cycle each duplicate has its UPN and primary address back with
// no conflict (learn.microsoft.com/entra/identity/hybrid/connect/
// how-to-connect-syncservice-duplicate-attribute-resiliency).
func TestDARDuplicateCleanup(t *testing.T) {
	l := startLab(t, "cloud-only-dar")
	// The failure: cycles change nothing while the originals hold the
	// values, and neither does the hourly task.
	l.sync("Initial")
	if code, body := l.do("POST", "/lab/clock?advance=2h", nil); code != 200 {
		t.Fatalf("clock: %d %v", code, body)
	}
	before := l.dump()
	dups := map[string]map[string]any{}
	for _, n := range []string{"mia", "noah"} {
		d := duplicateOf(t, before, n+"@contoso.com")
		if !strings.HasPrefix(str(d["userPrincipalName"]), n+"+") || len(d["onPremisesProvisioningErrors"].([]any)) == 0 {
			t.Fatalf("%s's duplicate before the fix: %v", n, d)
		}
		dups[n] = d
	}
	originals := map[string]string{}
	for _, n := range []string{"mia", "noah"} {
		originals[n] = str(before.cloudUser(t, n+"@contoso.com", false)["id"])
	}

	j := darJob(l, "mia", "noah")
	approve := j.Approve
	j.Approve = nil
	rep, err := j.run(context.Background(), testLog{t})
	if err == nil || rep == nil || !strings.Contains(rep.Paused, "mia@contoso.com ("+originals["mia"]+") gives way to mia+") {
		t.Fatalf("the run did not stop for the approval naming the original: %v %+v", err, rep)
	}
	unchangedExcept(t, before, l.dump(), nil)
	j.Approve = approve
	l.apply(j)
	after := l.dump()
	for _, n := range []string{"mia", "noah"} {
		upn := n + "@contoso.com"
		u := after.cloudUser(t, upn, false)
		if str(u["id"]) != str(dups[n]["id"]) {
			t.Errorf("%s is cloud user %s, want the duplicate %s", upn, u["id"], dups[n]["id"])
		}
		if u["onPremisesSyncEnabled"] != true || str(u["onPremisesImmutableId"]) != str(dups[n]["onPremisesImmutableId"]) {
			t.Errorf("%s: synced %v, anchor %v", upn, u["onPremisesSyncEnabled"], u["onPremisesImmutableId"])
		}
		if e, _ := u["onPremisesProvisioningErrors"].([]any); len(e) > 0 {
			t.Errorf("%s still has conflicts: %v", upn, e)
		}
		if !contains(strs(u["proxyAddresses"]), "SMTP:"+upn) {
			t.Errorf("%s did not get its primary address back: %v", upn, u["proxyAddresses"])
		}
		for _, o := range after.list("users") {
			if str(o["id"]) == originals[n] {
				t.Errorf("the original %s is still there: %v", upn, o)
			}
		}
	}
	// olga (licensed) was not named and is untouched; so is everyone else.
	unchangedExcept(t, before, after, func(k string, o map[string]any) bool {
		if k == "organization" {
			return true
		}
		id := strings.TrimPrefix(k, "user:")
		return id == originals["mia"] || id == originals["noah"] || id == str(dups["mia"]["id"]) || id == str(dups["noah"]["id"])
	})
}

// TestDARDuplicateCleanupRefuses: the survivor rules stop the plan when
// the original must survive or is not this runbook's to remove.
func TestDARDuplicateCleanupRefuses(t *testing.T) {
	t.Run("licensed original", func(t *testing.T) {
		l := startLab(t, "cloud-only-dar")
		refused(t, l, darJob(l, "mia", "olga"), "olga@contoso.com (")
	})
	t.Run("no duplicate", func(t *testing.T) {
		l := startLab(t, "cloud-only-takeover")
		refused(t, l, darJob(l, "hana"), "exactly one cloud user holding its anchor")
	})
	t.Run("not a duplicate", func(t *testing.T) {
		l := startLab(t, "healthy")
		refused(t, l, darJob(l, "user00003"), "not a duplicate")
	})
	t.Run("admin original", func(t *testing.T) {
		l := startLab(t, "cloud-only-dar")
		if _, err := l.in.Tenant.AddCloudUser(labmodel.CloudUser{UserPrincipalName: "pat@contoso.com", ProxyAddresses: []string{"SMTP:pat@contoso.com"},
			DirectoryRoles: []string{"Global Administrator"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.in.Tenant.AddADUser(labmodel.ADUser{DN: "CN=pat,OU=Users,DC=corp,DC=example,DC=com", SAMAccountName: "pat",
			UserPrincipalName: "pat@contoso.com", Mail: "pat@contoso.com", ProxyAddresses: []string{"SMTP:pat@contoso.com"}}); err != nil {
			t.Fatal(err)
		}
		l.sync("Delta")
		refused(t, l, darJob(l, "pat"), "hold directory roles")
	})
}

// TestRollbackDARCleanup fails the run at its cycle, after the purges:
// the run stops (a purge cannot be undone), and a rollback puts the
// scheduler back and reports the deletions and purges it cannot revert.
func TestRollbackDARCleanup(t *testing.T) {
	l, j, rep, _ := failAt(t, "dar-duplicate-cleanup", "step.adsync_cycle.initial", syncOff)
	stoppedPastIrreversible(t, rep)
	nr := notReverted(j.rollback(t))
	if !hasPrefix(nr, "step.entra_user_purge.original") || !hasPrefix(nr, "step.entra_user_deleted.original") {
		t.Errorf("not reverted %v; want the purges and the deletions they made final reported", nr)
	}
	if !l.in.Tenant.Scheduler().SyncCycleEnabled {
		t.Error("the scheduler is still held after the rollback")
	}
}
