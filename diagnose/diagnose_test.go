package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/snapshot"
)

// seed000 is seed 000 by hand: nicki's cloud user in the recycle bin with
// an anchor that names no AD object, and a new AD account with her UPN.
func seed000(domainType string, dirSync *snapshot.DirSyncFeatures) *snapshot.Snapshot {
	deleted := time.Date(2026, 4, 7, 12, 0, 0, 0, time.UTC)
	off := false
	return &snapshot.Snapshot{Format: snapshot.Format, TakenAt: deleted.Add(24 * time.Hour), DirSync: dirSync,
		Organization: snapshot.Organization{ID: "o", VerifiedDomains: []snapshot.Domain{
			{Name: "contoso.onmicrosoft.com", Type: "Managed", IsInitial: true}, {Name: "contoso.com", Type: domainType}}},
		Users: []snapshot.User{{ID: "u1", UserPrincipalName: "nicki@contoso.com", OnPremisesImmutableID: "my9s3SP45EGOfMGNUp35Hg==",
			OnPremisesSyncEnabled: &off, DeletedDateTime: &deleted}},
		AD: snapshot.AD{Users: []snapshot.ADUser{{ObjectGUID: "012114da-8d79-4015-8a5f-ddfc20df81db",
			DistinguishedName: "CN=nicki,OU=Users,DC=corp,DC=example,DC=com", UserPrincipalName: "nicki@contoso.com"}}}}
}

// The switches Graph served go into the -var-file; a federated domain and
// a blocked soft match are predicted refusals; unread switches say so.
func TestRestoreMistakeVarsAndRefusals(t *testing.T) {
	f := Analyze(seed000("Managed", &snapshot.DirSyncFeatures{})).Findings
	if len(f) != 1 || f[0].Runbook != "restore-mistake" || f[0].Vars["upn"] != "nicki@contoso.com" || f[0].Vars["soft_match_blocked"] != "no" || len(f[0].Refusals) != 0 {
		t.Fatalf("managed, switches read: %+v", f)
	}
	f = Analyze(seed000("Federated", &snapshot.DirSyncFeatures{BlockSoftMatchEnabled: true})).Findings
	if len(f) != 1 || f[0].Vars["soft_match_blocked"] != "yes" || len(f[0].Refusals) != 2 ||
		!strings.Contains(f[0].Refusals[0], "federated domain contoso.com") || !strings.Contains(f[0].Refusals[1], "blocks soft match") {
		t.Fatalf("federated, soft match blocked: %+v", f)
	}
	f = Analyze(seed000("Managed", nil)).Findings
	if len(f) != 1 || f[0].Vars["soft_match_blocked"] != nil || len(f[0].Refusals) != 1 || !strings.HasPrefix(f[0].Refusals[0], "unknown:") {
		t.Fatalf("switches not read: %+v", f)
	}
}

// A user whose anchor names its live AD account is healthy, however its
// names differ; a cloud-only user is not an orphan.
func TestBoundAndCloudOnlyUsersAreNotFindings(t *testing.T) {
	g := "012114da-8d79-4015-8a5f-ddfc20df81db"
	id, err := anchor.ImmutableIDFromGUID(g)
	if err != nil {
		t.Fatal(err)
	}
	on := true
	s := &snapshot.Snapshot{Format: snapshot.Format,
		Users: []snapshot.User{{ID: "u1", UserPrincipalName: "renamed@contoso.com", OnPremisesImmutableID: id, OnPremisesSyncEnabled: &on},
			{ID: "u2", UserPrincipalName: "admin@contoso.onmicrosoft.com"}},
		AD: snapshot.AD{Users: []snapshot.ADUser{{ObjectGUID: g, DistinguishedName: "CN=x,DC=corp", UserPrincipalName: "x@contoso.com"}}}}
	if f := Analyze(s).Findings; len(f) != 0 {
		t.Fatalf("%+v", f)
	}
}

// TestRestoreMistakeWithPrefixedDeletedUPN: a deleted user whose UPN
// carries its object id without dashes in front (reported of real tenants;
// no Microsoft page found documents it, and steps/entra finds deleted users
// under either form) is still seed 000, with the UPN it had as the
// runbook's input.
func TestRestoreMistakeWithPrefixedDeletedUPN(t *testing.T) {
	s := seed000("Managed", &snapshot.DirSyncFeatures{})
	s.Users[0].ID = "0f3c2b1a-1111-2222-3333-444455556666"
	s.Users[0].UserPrincipalName = "0f3c2b1a111122223333444455556666nicki@contoso.com"
	f := Analyze(s).Findings
	if len(f) != 1 || f[0].Runbook != "restore-mistake" || f[0].Vars["upn"] != "nicki@contoso.com" {
		t.Fatalf("findings = %+v, want seed 000 with upn nicki@contoso.com", f)
	}
}

// Each synchronisation switch a runbook needs reaches its finding the same
// way: read, it is the runbook's variable and, when on, a refusal saying
// what it blocks; unread (Graph serves the switches to a signed-in Global
// Administrator only), a line asking a person for it.
func TestSyncSwitchesReachTheirFindings(t *testing.T) {
	// rebuilt is seed 001 by hand: a synced cloud user whose anchor names
	// no AD object, and a new AD account with her UPN.
	rebuilt := func(dirSync *snapshot.DirSyncFeatures) *snapshot.Snapshot {
		on := true
		return &snapshot.Snapshot{Format: snapshot.Format, DirSync: dirSync,
			Organization: snapshot.Organization{ID: "o", VerifiedDomains: []snapshot.Domain{{Name: "contoso.com", Type: "Managed"}}},
			Users: []snapshot.User{{ID: "u1", UserPrincipalName: "adele@contoso.com", OnPremisesImmutableID: "my9s3SP45EGOfMGNUp35Hg==",
				OnPremisesSyncEnabled: &on}},
			AD: snapshot.AD{Users: []snapshot.ADUser{{ObjectGUID: "012114da-8d79-4015-8a5f-ddfc20df81db",
				DistinguishedName: "CN=adele,OU=Users,DC=corp,DC=example,DC=com", UserPrincipalName: "adele@contoso.com"}}}}
	}
	for _, tt := range []struct {
		name     string
		snap     *snapshot.Snapshot
		runbook  string
		variable string
		want     any // the variable's value; nil: not set
		refusal  string
	}{
		{"soft match unread", seed000("Managed", nil), "restore-mistake", "soft_match_blocked", nil,
			`unknown: whether the tenant blocks soft match (Graph serves it to a signed-in Global Administrator only); add soft_match_blocked = "no" or "yes" as a Global Administrator reads it, or the runbook stops to ask`},
		{"soft match off", seed000("Managed", &snapshot.DirSyncFeatures{}), "restore-mistake", "soft_match_blocked", "no", ""},
		{"soft match blocked", seed000("Managed", &snapshot.DirSyncFeatures{BlockSoftMatchEnabled: true}), "restore-mistake", "soft_match_blocked", "yes",
			"refuses: the tenant blocks soft match (blockSoftMatchEnabled); set the immutable ID to the new account's anchor instead (rebuilt-ad-hard-match)"},
		{"takeover unread", rebuilt(nil), "rebuilt-ad-hard-match", "takeover_blocked", nil,
			`unknown: whether the tenant blocks cloud object takeover through hard match (Graph serves it to a signed-in Global Administrator only); add takeover_blocked = "no" or "yes" as a Global Administrator reads it, or the runbook stops to ask`},
		{"takeover off", rebuilt(&snapshot.DirSyncFeatures{}), "rebuilt-ad-hard-match", "takeover_blocked", "no", ""},
		{"takeover blocked", rebuilt(&snapshot.DirSyncFeatures{BlockCloudObjectTakeoverThroughHardMatchEnabled: true}), "rebuilt-ad-hard-match", "takeover_blocked", "yes",
			"refuses: the tenant blocks cloud object takeover through hard match (blockCloudObjectTakeoverThroughHardMatchEnabled); every user would fail with InvalidHardMatch once sync is back on"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := Analyze(tt.snap).Findings
			if len(f) != 1 || f[0].Runbook != tt.runbook {
				t.Fatalf("findings = %+v, want one for %s", f, tt.runbook)
			}
			if got, ok := f[0].Vars[tt.variable]; got != tt.want || ok != (tt.want != nil) {
				t.Errorf("%s = %v (set %v), want %v", tt.variable, got, ok, tt.want)
			}
			var switchLines []string
			for _, r := range f[0].Refusals {
				if strings.Contains(r, "the tenant blocks") {
					switchLines = append(switchLines, r)
				}
			}
			if want := []string{tt.refusal}; tt.refusal == "" && len(switchLines) != 0 || tt.refusal != "" && strings.Join(switchLines, "\n") != strings.Join(want, "\n") {
				t.Errorf("refusals about the switch = %q, want %q", switchLines, tt.refusal)
			}
		})
	}
}
