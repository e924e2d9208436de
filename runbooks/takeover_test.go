package runbooks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal"
	labmodel "github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// takeoverUsers are the cloud-only users of the cloud-only-takeover scenario.
var takeoverUsers = []string{"hana", "ivan", "jon"}

func takeoverVars(names ...string) string {
	var parts []string
	for _, n := range names {
		parts = append(parts, `"`+n+`@contoso.com" = "`+n+`@contoso.com"`)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func takeoverJob(l *lab, names ...string) job {
	j := l.newJob("hard-match-takeover", map[string]string{"users": takeoverVars(names...), "baseline": "baseline.json", "takeover_blocked": l.takeoverAnswer()})
	j.Approve = []string{`step.approve.takeover["takeover"]`}
	return j
}

// TestHardMatchTakeover: with soft match blocked, the cloud-only users'
// new AD accounts would be provisioned beside them; with each cloud user's
// immutable ID set to its account's anchor, the Initial cycle hard matches
// and takes every one over (learn.microsoft.com/entra/identity/hybrid/
// connect/how-to-connect-install-existing-tenant, "Hard-match vs
// Soft-match").
func TestHardMatchTakeover(t *testing.T) {
	// The failure, on a lab of its own: a cycle without the anchors makes
	// a second cloud user for each account.
	bare := startLab(t, "cloud-only-takeover")
	bare.sync("Initial")
	provisionedBeside(t, bare.dump(), "after a cycle without the anchors", takeoverUsers...)

	l := startLab(t, "cloud-only-takeover")
	before := l.dump()
	lastBefore, _ := l.in.Tenant.LastSync()
	j := takeoverJob(l, takeoverUsers...)
	approve := j.Approve
	j.Approve = nil
	// The run stops at the approval, anchors written, no cycle run.
	rep, err := j.run(context.Background(), testLog{t})
	if err == nil || rep == nil || !strings.Contains(rep.Paused, "hana@contoso.com <= CN=hana") {
		t.Fatalf("the run did not stop for the takeover's approval: %v %+v", err, rep)
	}
	if last, _ := l.in.Tenant.LastSync(); last.ID != lastBefore.ID {
		t.Fatal("a cycle ran before the approval")
	}
	j.Approve = approve
	l.apply(j)
	after := l.dump()
	for _, n := range takeoverUsers {
		upn := n + "@contoso.com"
		was := before.cloudUser(t, upn, false)
		u := after.cloudUser(t, upn, false)
		ad := after.adUser(t, upn)
		if str(u["id"]) != str(was["id"]) {
			t.Errorf("%s is cloud user %s, want the cloud-only one %s", upn, u["id"], was["id"])
		}
		if got, want := str(u["onPremisesImmutableId"]), immutableID(t, str(ad["objectGUID"])); got != want {
			t.Errorf("%s: immutable ID %q, want its AD account's %q", upn, got, want)
		}
		if u["onPremisesSyncEnabled"] != true {
			t.Errorf("%s is not synced", upn)
		}
		if e, _ := u["onPremisesProvisioningErrors"].([]any); len(e) > 0 {
			t.Errorf("%s has provisioning errors: %v", upn, e)
		}
		if len(strs(u["assignedLicenses"])) == 0 {
			t.Errorf("%s lost its license", upn)
		}
		if mb := after.find("recipients", "UserPrincipalName", upn); len(mb) != 1 || str(mb[0]["WhenSoftDeleted"]) != "" {
			t.Errorf("%s's mailbox: %v", upn, mb)
		}
	}
	if errs := after.lastErrors(); len(errs) > 0 {
		t.Errorf("the cycle reports errors: %v", errs)
	}
	if l.in.Tenant.Scheduler().SyncCycleEnabled {
		t.Error("the scheduler runs after the run; it was held before it and must be put back so")
	}
	// Only the three cloud users changed (taken over); no duplicate was
	// made, no AD object or mailbox changed.
	unchangedExcept(t, before, after, func(k string, o map[string]any) bool {
		if k == "organization" {
			return true
		}
		if !strings.HasPrefix(k, "user:") {
			return false
		}
		for _, n := range takeoverUsers {
			if strings.EqualFold(str(o["userPrincipalName"]), n+"@contoso.com") {
				return true
			}
		}
		return false
	})
}

// TestHardMatchTakeoverRefuses: what Microsoft documents stops a hard match
// stops the plan, before anything is written.
func TestHardMatchTakeoverRefuses(t *testing.T) {
	addPair := func(t *testing.T, l *lab, name string, roles ...string) {
		t.Helper()
		upn := name + "@contoso.com"
		if _, err := l.in.Tenant.AddCloudUser(labmodel.CloudUser{UserPrincipalName: upn, ProxyAddresses: []string{"SMTP:" + upn}, DirectoryRoles: roles}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.in.Tenant.AddADUser(labmodel.ADUser{DN: "CN=" + name + ",OU=Users,DC=corp,DC=example,DC=com", SAMAccountName: name,
			UserPrincipalName: upn, Mail: upn, ProxyAddresses: []string{"SMTP:" + upn}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("admin role", func(t *testing.T) {
		l := startLab(t, "cloud-only-takeover")
		addPair(t, l, "kim", "Global Administrator")
		refused(t, l, takeoverJob(l, "hana", "kim"), "kim@contoso.com (role template "+labhttp.RoleGlobalAdministrator+")")
	})
	t.Run("takeover blocked", func(t *testing.T) {
		l := startLab(t, "cloud-only-takeover")
		l.in.Tenant.SetHardMatchTakeoverBlocked(true)
		refused(t, l, takeoverJob(l, takeoverUsers...), "blocks cloud object takeover through hard match")
	})
	t.Run("takeover unknown", func(t *testing.T) {
		l := startLab(t, "cloud-only-takeover")
		j := takeoverJob(l, takeoverUsers...)
		j.Vars["takeover_blocked"] = ""
		refused(t, l, j, "takeover_blocked=no")
	})
	t.Run("federated domain", func(t *testing.T) {
		fsys := scenarioVariant(t, "cloud-only-takeover", func(sc map[string]any) {
			sc["config"].(map[string]any)["domains"] = []map[string]string{{"name": "contoso.com", "type": "Federated"}}
		})
		l := startLabFrom(t, fsys, "variant")
		refused(t, l, takeoverJob(l, takeoverUsers...), "in a federated domain")
	})
	t.Run("anchor held", func(t *testing.T) {
		// A cycle already ran: each account has a duplicate holding its anchor.
		l := startLab(t, "cloud-only-takeover")
		l.sync("Initial")
		refused(t, l, takeoverJob(l, "ivan"), "ivan+")
	})
	t.Run("already synced", func(t *testing.T) {
		l := startLab(t, "healthy")
		j := l.newJob("hard-match-takeover", map[string]string{"users": `{"user00003@contoso.com" = "user00003@contoso.com"}`, "takeover_blocked": "no"})
		refused(t, l, j, "not cloud-only")
	})
}

// TestHardMatchTakeoverChecksTheCloudUser: the bind-cycle module compares
// each bound user with the cloud user the baseline kept, when the runbook
// passes its id. Here hana's cloud user is deleted and purged right before
// the Initial cycle, so the cycle provisions her AD account as a new cloud
// user holding the same anchor: the awaited state is reached, and the
// check against the old id fails the run, naming both.
func TestHardMatchTakeoverChecksTheCloudUser(t *testing.T) {
	l := startLab(t, "cloud-only-takeover")
	old := str(l.dump().cloudUser(t, "hana@contoso.com", false)["id"])
	tr := &trigger{t: t, marker: "module.bind.step.adsync_cycle.initial", fn: func() {
		if err := l.in.Tenant.DeleteCloudUser(old); err != nil {
			t.Error(err)
		}
		if err := l.in.Tenant.PurgeCloudUser(old); err != nil {
			t.Error(err)
		}
	}}
	rep, err := takeoverJob(l, "hana").run(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	now := str(l.dump().cloudUser(t, "hana@contoso.com", false)["id"])
	if now == old {
		t.Fatalf("hana is still cloud user %s; the test wanted her provisioned anew", old)
	}
	if f := fmt.Sprint(rep.Failures); rep.Status == journal.StatusSucceeded || !strings.Contains(f, "is cloud user "+now+", not "+old) {
		t.Fatalf("run ended %s (%+v), want a failure naming cloud user %s instead of %s", rep.Status, rep.Failures, now, old)
	}
}
