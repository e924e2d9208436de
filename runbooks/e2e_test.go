package runbooks_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/engine/journal"
	labmodel "github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

func immutableID(t *testing.T, g string) string {
	t.Helper()
	guid, err := anchor.ParseGUID(g)
	if err != nil {
		t.Fatal(err)
	}
	return guid.ImmutableID()
}

// restoreMistake is seed 000's job: nicki@contoso.com. rebind holds an
// app-only token, which cannot read whether the tenant blocks soft match;
// the admin checked (the lab's scenarios do not block it) and says so.
func restoreMistake(l *lab) job {
	return l.newJob("restore-mistake", map[string]string{"upn": "nicki@contoso.com", "soft_match_blocked": "no"})
}

func TestRestoreMistake(t *testing.T) {
	l := startLab(t, "restore-mistake")
	start := l.dump()
	nicki := start.cloudUser(t, "nicki@contoso.com", true)
	id := str(nicki["id"])
	newAD := start.adUser(t, "nicki@contoso.com")

	// The failure: restoring the cloud user alone does not hold; the next
	// cycle deletes it again.
	if code, body := l.do(http.MethodPost, "/v1.0/directory/deletedItems/"+id+"/restore", nil); code/100 != 2 {
		t.Fatalf("restore: %d %v", code, body)
	}
	l.sync("Delta")
	s := l.dump()
	s.cloudUser(t, "nicki@contoso.com", true)
	if errs := s.lastErrors(); len(errs) != 1 || str(errs[0]["code"]) != "AttributeValueMustBeUnique" {
		t.Fatalf("the cycle after a bare restore: errors %v, want one AttributeValueMustBeUnique", errs)
	}

	before := l.dump()
	l.apply(restoreMistake(l))
	after := l.dump()

	u := after.cloudUser(t, "nicki@contoso.com", false)
	if str(u["id"]) != id {
		t.Errorf("nicki is cloud user %s, want the original %s", u["id"], id)
	}
	if got, want := str(u["onPremisesImmutableId"]), immutableID(t, str(newAD["objectGUID"])); got != want {
		t.Errorf("nicki's immutable ID = %q, want the new AD account's %q", got, want)
	}
	if u["onPremisesSyncEnabled"] != true {
		t.Errorf("nicki is not synced: %v", u["onPremisesSyncEnabled"])
	}
	if e, _ := u["onPremisesProvisioningErrors"].([]any); len(e) > 0 {
		t.Errorf("nicki still has provisioning errors: %v", e)
	}
	mb := after.find("recipients", "UserPrincipalName", "nicki@contoso.com")
	if len(mb) != 1 || str(mb[0]["ExchangeGuid"]) != "48021661-907d-4b90-bf3d-7c8c4773f54b" || str(mb[0]["WhenSoftDeleted"]) != "" {
		t.Errorf("nicki's mailbox is not back with its ExchangeGuid: %v", mb)
	}
	if errs := after.lastErrors(); len(errs) > 0 {
		t.Errorf("the last cycle still reports errors: %v", errs)
	}
	// A delta cycle afterwards keeps her.
	l.sync("Delta")
	l.dump().cloudUser(t, "nicki@contoso.com", false)

	unchangedExcept(t, before, after, func(k string, o map[string]any) bool {
		return k == "user:"+id || k == "recipient:UserMailbox:nicki@contoso.com:48021661-907d-4b90-bf3d-7c8c4773f54b"
	})
}

func TestRebuiltADHardMatch(t *testing.T) {
	l := startLab(t, "rebuilt-ad")
	start := l.dump()

	// The failure: an Initial cycle fails for every re-created user.
	l.sync("Initial")
	s := l.dump()
	if n := len(s.lastErrors()); n != 12 {
		t.Fatalf("the Initial cycle before the fix reports %d errors, want 12", n)
	}
	users := []string{}
	for _, n := range rebuiltUsers {
		users = append(users, n+"@contoso.com")
	}
	stale := map[string]bool{}
	for _, o := range start.list("users") {
		if strings.HasSuffix(str(o["userPrincipalName"]), ".old@contoso.com") {
			stale[str(o["id"])] = true
		}
	}
	if len(stale) != 3 {
		t.Fatalf("scenario has %d stale users, want 3", len(stale))
	}

	// A user in the recycle bin that holds none of their addresses: it
	// must stay there.
	other, err := l.in.Tenant.AddCloudUser(labmodel.CloudUser{UserPrincipalName: "leaver@contoso.com", ProxyAddresses: []string{"SMTP:leaver@contoso.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.in.Tenant.DeleteCloudUser(other.ID); err != nil {
		t.Fatal(err)
	}

	before := l.dump()
	j := l.newJob("rebuilt-ad-hard-match", nil)
	csv := filepath.Join(j.WorkDir, "users.csv")
	if err := os.WriteFile(csv, []byte("upn\n"+strings.Join(users, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	j.Vars = map[string]string{"users_csv": csv, "baseline": "baseline.json", "takeover_blocked": l.takeoverAnswer()}
	j.Approve = []string{`step.approve.purge_stale["stale"]`}
	l.apply(j)
	after := l.dump()

	for _, upn := range users {
		ad := after.adUser(t, upn)
		u := after.cloudUser(t, upn, false)
		if got, want := str(u["onPremisesImmutableId"]), immutableID(t, str(ad["objectGUID"])); got != want {
			t.Errorf("%s: immutable ID %q, want the new objectGUID's %q", upn, got, want)
		}
		if u["onPremisesSyncEnabled"] != true {
			t.Errorf("%s is not synced", upn)
		}
		if e, _ := u["onPremisesProvisioningErrors"].([]any); len(e) > 0 {
			t.Errorf("%s still has provisioning errors: %v", upn, e)
		}
		if !contains(strs(u["proxyAddresses"]), "SMTP:"+upn) {
			t.Errorf("%s lost its primary address: %v", upn, u["proxyAddresses"])
		}
	}
	for id := range stale {
		for _, o := range after.list("users") {
			if str(o["id"]) == id {
				t.Errorf("stale user %s is still in the recycle bin", o["userPrincipalName"])
			}
		}
	}
	if errs := after.lastErrors(); len(errs) > 0 {
		t.Errorf("the last cycle still reports errors: %v", errs)
	}
	if b, err := os.ReadFile(filepath.Join(j.WorkDir, "baseline.json")); err != nil || !strings.Contains(string(b), "my9s3SP45EGOfMGNUp35Hg==") {
		t.Errorf("the baseline does not hold user01's old immutable ID (%v): %.200s", err, b)
	}
	// Mailboxes keep their GUIDs: every recipient is unchanged.
	unchangedExcept(t, before, after, func(k string, o map[string]any) bool {
		if stale[strings.TrimPrefix(k, "user:")] {
			return true
		}
		upn := str(o["userPrincipalName"])
		if strings.HasPrefix(k, "user:") && contains(users, upn) {
			return true
		}
		// Every synced user went through sync off and on: only its
		// sync time may differ, which normalize already hides.
		return false
	})
}

// rebuiltUsers are the re-created users of the rebuilt-ad scenario (seed
// 001).
var rebuiltUsers = []string{"user01", "user02", "user03", "user04", "user05", "user06", "user07", "user08", "user09", "user10", "user11", "user12"}

func contains(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func TestArchiveGUIDMismatch(t *testing.T) {
	l := startLab(t, "archive-guid-mismatch")
	// The failure: a cycle alone changes nothing; the errors stay.
	l.sync("Delta")
	before := l.dump()
	for _, upn := range []string{"arch1@contoso.com", "arch2@contoso.com", "arch3@contoso.com"} {
		if e, _ := before.cloudUser(t, upn, false)["serviceProvisioningErrors"].([]any); len(e) == 0 {
			t.Fatalf("%s has no Exchange error before the fix", upn)
		}
	}

	// arch3 has no mailNickname: without an alias the runbook refuses.
	refused(t, l, l.newJob("archive-guid-mismatch", map[string]string{"upn": "arch3@contoso.com"}), "no mailNickname")

	archives := map[string]string{"arch1": "a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1", "arch2": "a2a2a2a2-a2a2-a2a2-a2a2-a2a2a2a2a2a2", "arch3": "a3a3a3a3-a3a3-a3a3-a3a3-a3a3a3a3a3a3"}
	for _, name := range []string{"arch1", "arch2", "arch3"} {
		vars := map[string]string{"upn": name + "@contoso.com"}
		if name == "arch3" {
			vars["alias"] = "arch3"
		}
		l.apply(l.newJob("archive-guid-mismatch", vars))
	}
	after := l.dump()
	for name, archive := range archives {
		upn := name + "@contoso.com"
		ad := after.adUser(t, upn)
		if str(ad["msExchArchiveGUID"]) != archive {
			t.Errorf("%s: msExchArchiveGUID %v, want the cloud archive's %s", upn, ad["msExchArchiveGUID"], archive)
		}
		if str(ad["mailNickname"]) != name {
			t.Errorf("%s: mailNickname %v", upn, ad["mailNickname"])
		}
		if e, _ := after.cloudUser(t, upn, false)["serviceProvisioningErrors"].([]any); len(e) > 0 {
			t.Errorf("%s still has Exchange errors: %v", upn, e)
		}
		mb := after.find("recipients", "UserPrincipalName", upn)
		if len(mb) != 1 || str(mb[0]["ArchiveGuid"]) != archive {
			t.Errorf("%s: the cloud archive changed: %v", upn, mb)
		}
	}
	unchangedExcept(t, before, after, func(k string, o map[string]any) bool {
		upn := str(o["userPrincipalName"])
		return !strings.HasPrefix(k, "recipient:") && strings.HasPrefix(upn, "arch")
	})
}

func TestExchangeGUIDInUse(t *testing.T) {
	l := startLab(t, "exchange-guid-in-use")
	l.sync("Delta")
	before := l.dump()
	for _, upn := range []string{"erin@contoso.com", "frank@contoso.com"} {
		if e, _ := before.cloudUser(t, upn, false)["serviceProvisioningErrors"].([]any); len(e) == 0 {
			t.Fatalf("%s has no Exchange error before the fix", upn)
		}
	}

	// erin: a soft-deleted mail user holds her ExchangeGuid.
	l.apply(l.newJob("exchange-guid-in-use", map[string]string{"upn": "erin@contoso.com"}))
	// frank: a soft-deleted mailbox on hold; the run pauses for a person.
	j := l.newJob("exchange-guid-in-use", map[string]string{"upn": "frank@contoso.com"})
	rep, err := j.run(context.Background(), testLog{t})
	if err == nil || rep == nil || !strings.Contains(rep.Paused, "frank.old@contoso.com") {
		t.Fatalf("frank's run did not stop for an approval naming the mailbox: %v %+v", err, rep)
	}
	mid := l.dump()
	if h := mid.find("recipients", "UserPrincipalName", "frank.old@contoso.com"); len(h) != 1 || h[0]["LitigationHoldEnabled"] != true {
		t.Fatalf("the hold was touched before the approval: %v", h)
	}
	j.Approve = []string{`step.approve.purge_mailbox["8151336f-4f32-4f15-85cf-552965dc85de"]`}
	l.apply(j)
	after := l.dump()

	for upn, guid := range map[string]string{"erin@contoso.com": "51515151-5151-5151-5151-515151515151", "frank@contoso.com": "52525252-5252-5252-5252-525252525252"} {
		u := after.cloudUser(t, upn, false)
		if e, _ := u["serviceProvisioningErrors"].([]any); len(e) > 0 {
			t.Errorf("%s still has Exchange errors: %v", upn, e)
		}
		holders := after.find("recipients", "ExchangeGuid", guid)
		if len(holders) != 1 || !strings.EqualFold(str(holders[0]["UserPrincipalName"]), upn) || str(holders[0]["WhenSoftDeleted"]) != "" {
			t.Errorf("%s: the recipients holding %s are %v, want only %s's own, active", upn, guid, holders, upn)
		}
	}
	for _, old := range []string{"erin.old@contoso.com", "frank.old@contoso.com"} {
		if h := after.find("recipients", "UserPrincipalName", old); len(h) > 0 {
			t.Errorf("%s was not purged: %v", old, h)
		}
	}
	unchangedExcept(t, before, after, func(k string, o map[string]any) bool {
		if strings.HasPrefix(k, "recipient:") {
			upn := strings.ToLower(str(o["UserPrincipalName"]))
			return upn == "erin@contoso.com" || upn == "frank@contoso.com" || upn == "erin.old@contoso.com" || upn == "frank.old@contoso.com"
		}
		upn := str(o["userPrincipalName"])
		return strings.HasPrefix(k, "user:") && (upn == "erin@contoso.com" || upn == "frank@contoso.com")
	})
}

// offboardCSV is what Get-Mailbox | Select UserPrincipalName,Alias,ExchangeGuid
// exports from the lab's Exchange for the users with AD accounts.
func offboardCSV(t *testing.T, dir string, s state) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("UserPrincipalName,Alias,ExchangeGuid\n")
	for _, n := range []string{"ann", "bob", "cy", "dana", "eli"} {
		mb := s.find("recipients", "UserPrincipalName", n+"@contoso.com")
		if len(mb) != 1 {
			t.Fatalf("%s has %d mailboxes", n, len(mb))
		}
		b.WriteString(n + "@contoso.com," + n + "," + str(mb[0]["ExchangeGuid"]) + "\n")
	}
	p := filepath.Join(dir, "mailboxes.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func offboardJob(t *testing.T, l *lab, s state) job {
	j := l.newJob("offboard-relink", nil)
	j.Vars = map[string]string{
		"mailboxes_csv":  offboardCSV(t, j.WorkDir, s),
		"routing_domain": "contoso.mail.onmicrosoft.com",
		"relink_upns":    `["dana@contoso.com", "eli@contoso.com"]`,
		"baseline":       "baseline.json",
	}
	j.Vars["takeover_blocked"] = l.takeoverAnswer()
	return j
}

func TestOffboardRelink(t *testing.T) {
	l := startLab(t, "offboard-relink")
	l.sync("Delta")
	before := l.dump()
	if n := len(before.lastErrors()); n != 2 {
		t.Fatalf("a cycle before the fix reports %d errors, want 2 (dana, eli)", n)
	}

	// fay has no AD account: listing her for re-pairing is refused.
	bad := offboardJob(t, l, before)
	bad.Vars["relink_upns"] = `["fay@contoso.com"]`
	if _, err := bad.run(context.Background(), testLog{t}); err == nil || !strings.Contains(err.Error(), "fay@contoso.com") {
		t.Fatalf("re-pairing fay: %v, want a refusal naming her", err)
	}
	unchangedExcept(t, before, l.dump(), nil)

	l.apply(offboardJob(t, l, before))
	after := l.dump()
	for _, n := range []string{"ann", "bob", "cy", "dana", "eli"} {
		upn := n + "@contoso.com"
		ad := after.adUser(t, upn)
		mb := after.find("recipients", "UserPrincipalName", upn)
		if len(mb) != 1 || str(mb[0]["WhenSoftDeleted"]) != "" {
			t.Fatalf("%s's mailbox: %v", upn, mb)
		}
		if str(ad["msExchMailboxGuid"]) != str(mb[0]["ExchangeGuid"]) {
			t.Errorf("%s: msExchMailboxGuid %v, want the cloud ExchangeGuid %v", upn, ad["msExchMailboxGuid"], mb[0]["ExchangeGuid"])
		}
		if str(ad["targetAddress"]) != "SMTP:"+n+"@contoso.mail.onmicrosoft.com" {
			t.Errorf("%s: targetAddress %v", upn, ad["targetAddress"])
		}
		u := after.cloudUser(t, upn, false)
		if got, want := str(u["onPremisesImmutableId"]), immutableID(t, str(ad["objectGUID"])); got != want || u["onPremisesSyncEnabled"] != true {
			t.Errorf("%s: immutable ID %q synced %v, want %q and synced", upn, got, u["onPremisesSyncEnabled"], want)
		}
		if e, _ := u["onPremisesProvisioningErrors"].([]any); len(e) > 0 {
			t.Errorf("%s still has provisioning errors: %v", upn, e)
		}
	}
	if errs := after.lastErrors(); len(errs) > 0 {
		t.Errorf("the last cycle still reports errors: %v", errs)
	}
	fay := after.cloudUser(t, "fay@contoso.com", false)
	unchangedExcept(t, before, after, func(k string, o map[string]any) bool {
		upn := str(o["userPrincipalName"])
		if strings.HasPrefix(k, "recipient:") {
			return false
		}
		if k == "user:"+str(fay["id"]) {
			// Documented: an orphan not listed comes out of the sync off/on
			// cloud-managed, keeping its immutable ID.
			return fay["onPremisesSyncEnabled"] == false && str(fay["onPremisesImmutableId"]) == "3A3DVyRSKkeggjgVfQSg9g=="
		}
		for _, n := range []string{"ann", "bob", "cy", "dana", "eli"} {
			if strings.EqualFold(upn, n+"@contoso.com") {
				return true
			}
		}
		return false
	})
}

// TestRebuiltADRefuses checks that the runbook refuses, before writing
// anything, the cases where re-anchoring would be wrong.
func TestRebuiltADRefuses(t *testing.T) {
	filterJob := func(l *lab, filter string) job {
		return l.newJob("rebuilt-ad-hard-match", map[string]string{"ad_filter": filter})
	}
	t.Run("healthy users", func(t *testing.T) {
		// Users already bound: nothing to fix, and sync must stay on.
		l := startLab(t, "healthy")
		refused(t, l, filterJob(l, "(|(userPrincipalName=user00001@contoso.com)(userPrincipalName=user00002@contoso.com))"), "already anchored")
	})
	t.Run("old account alive", func(t *testing.T) {
		// user01's old account still exists: it was not re-created.
		l := startLab(t, "rebuilt-ad")
		old, err := anchor.FromImmutableID("my9s3SP45EGOfMGNUp35Hg==")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.in.Tenant.AddADUser(labmodel.ADUser{ObjectGUID: old, CN: "user01-legacy", SAMAccountName: "user01legacy",
			UserPrincipalName: "user01.legacy@contoso.com", DN: "CN=user01-legacy,OU=Users,DC=corp,DC=example,DC=com"}); err != nil {
			t.Fatal(err)
		}
		refused(t, l, filterJob(l, "(userPrincipalName=user01@contoso.com)"), "user01.legacy@contoso.com")
	})
	t.Run("user not in the cloud", func(t *testing.T) {
		l := startLab(t, "rebuilt-ad")
		if _, err := l.in.Tenant.AddADUser(labmodel.ADUser{ObjectGUID: mustGUID(t, "0badc0de-0000-4000-8000-000000000001"), CN: "newhire",
			SAMAccountName: "newhire", UserPrincipalName: "newhire@contoso.com", DN: "CN=newhire,OU=Users,DC=corp,DC=example,DC=com"}); err != nil {
			t.Fatal(err)
		}
		refused(t, l, filterJob(l, "(|(userPrincipalName=user01@contoso.com)(userPrincipalName=newhire@contoso.com))"), "newhire@contoso.com")
	})
}

func mustGUID(t *testing.T, s string) anchor.GUID {
	t.Helper()
	g, err := anchor.ParseGUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestExchangeGUIDInUseRefuses: an active recipient holding the GUID is
// another live user; the runbook purges nothing and says so.
func TestExchangeGUIDInUseRefuses(t *testing.T) {
	l := startLab(t, "exchange-guid-in-use")
	if _, err := l.in.Tenant.AddRecipient(labmodel.Recipient{ExternalDirectoryObjectID: "63636363-6363-6363-6363-636363636363",
		RecipientTypeDetails: "MailUser", Alias: "erin.contractor", UserPrincipalName: "erin.contractor@contoso.com",
		PrimarySMTPAddress: "erin.contractor@contoso.com", ExchangeGUID: mustGUID(t, "51515151-5151-5151-5151-515151515151")}); err != nil {
		t.Fatal(err)
	}
	refused(t, l, l.newJob("exchange-guid-in-use", map[string]string{"upn": "erin@contoso.com"}), "An active recipient holding it is another user")
}

// TestOffboardRelinkRefusesAddressMismatch: soft match pairs on the primary
// SMTP address; a re-created account with another one would not pair.
func TestOffboardRelinkRefusesAddressMismatch(t *testing.T) {
	l := startLab(t, "offboard-relink")
	if _, err := l.in.Tenant.UpdateADUser("CN=dana,OU=Users,DC=corp,DC=example,DC=com", func(u *labmodel.ADUser) {
		u.ProxyAddresses = []string{"SMTP:dana.new@contoso.com", "smtp:dana@contoso.com"}
	}); err != nil {
		t.Fatal(err)
	}
	refused(t, l, offboardJob(t, l, l.dump()), "primary SMTP address", "dana@contoso.com")
}

// TestRestoreMistakeRefusesWhenSoftMatchIsBlocked: the fix relies on soft
// match; in a tenant that blocks it the runbook refuses before it writes,
// and says to hard match instead. rebind learns of the block either from
// the admin (app-only token, soft_match_blocked = "yes") or by reading it
// with a Global Administrator's delegated token.
func TestRestoreMistakeRefusesWhenSoftMatchIsBlocked(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		env  func(l *lab) map[string]string
	}{
		{"admin says so", map[string]string{"upn": "nicki@contoso.com", "soft_match_blocked": "yes"}, func(*lab) map[string]string { return nil }},
		{"read with a delegated token", map[string]string{"upn": "nicki@contoso.com"}, func(l *lab) map[string]string {
			return map[string]string{"REBIND_LAB_TOKEN": l.delegatedToken("OnPremDirectorySynchronization.Read.All User.ReadWrite.All Organization.Read.All User.DeleteRestore.All", labhttp.RoleGlobalAdministrator)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLab(t, "restore-mistake")
			l.in.Tenant.SetSoftMatchBlocked(true)
			j := l.newJob("restore-mistake", tc.vars)
			j.Env = tc.env(l)
			refused(t, l, j, "blocks soft match", "hard match")
		})
	}
}

// TestRestoreMistakeAsksWhenSoftMatchIsUnknown: with an app-only token
// Graph refuses GET /directory/onPremisesSynchronization (403: it supports
// delegated Global Administrator sign-in only), so rebind cannot know
// whether soft match is blocked. Without the admin's answer the runbook
// stops before it writes and says how to find out and how to pass it on;
// with it the run goes through (TestRestoreMistake).
func TestRestoreMistakeAsksWhenSoftMatchIsUnknown(t *testing.T) {
	l := startLab(t, "restore-mistake")
	refused(t, l, l.newJob("restore-mistake", map[string]string{"upn": "nicki@contoso.com"}),
		"could not read whether the tenant blocks soft match", "Get-MgDirectoryOnPremiseSynchronization", "soft_match_blocked=no")
}

// TestRestoreMistakeWithoutTheOriginalObject: the anchor the cloud user
// holds names no deleted object in this AD (a tombstone past its lifetime,
// or an anchor carried over from another forest). Nothing can be restored
// instead, so the runbook goes on: the plan notes the absence and the fix
// is the same.
func TestRestoreMistakeWithoutTheOriginalObject(t *testing.T) {
	fsys := scenarioVariant(t, "restore-mistake", func(sc map[string]any) {
		var kept []any
		for _, o := range sc["ad"].([]any) {
			if o.(map[string]any)["isDeleted"] != true {
				kept = append(kept, o)
			}
		}
		if len(kept) != len(sc["ad"].([]any))-1 {
			t.Fatalf("the scenario has %d deleted AD objects, want 1", len(sc["ad"].([]any))-len(kept))
		}
		sc["ad"] = kept
	})
	l := startLabFrom(t, fsys, "variant")
	newAD := l.dump().adUser(t, "nicki@contoso.com")
	var log strings.Builder
	j := restoreMistake(l)
	rep, err := j.run(context.Background(), &log)
	if err != nil || rep.Status != journal.StatusSucceeded {
		t.Fatalf("run: %v %+v\n%s", err, rep, log.String())
	}
	u := l.dump().cloudUser(t, "nicki@contoso.com", false)
	if got, want := str(u["onPremisesImmutableId"]), immutableID(t, str(newAD["objectGUID"])); got != want {
		t.Errorf("nicki's immutable ID = %q, want the new AD account's %q", got, want)
	}
}

// TestRestoreMistakeRefusesWhenTheOriginalIsRestorable: with the AD Recycle
// Bin on, the original object kept its attributes; restoring it is the
// better fix, and the runbook refuses before it writes, saying so.
func TestRestoreMistakeRefusesWhenTheOriginalIsRestorable(t *testing.T) {
	fsys := scenarioVariant(t, "restore-mistake", func(sc map[string]any) {
		sc["config"].(map[string]any)["adRecycleBin"] = true
		for _, o := range sc["ad"].([]any) {
			if o := o.(map[string]any); o["isDeleted"] == true {
				o["userPrincipalName"] = "nicki@contoso.com"
				o["mail"] = "nicki@contoso.com"
			}
		}
	})
	l := startLabFrom(t, fsys, "variant")
	refused(t, l, restoreMistake(l), "Restore it instead")
}

// scenarioVariant returns a scenario folder holding "variant": the bundled
// scenario name changed by edit.
func scenarioVariant(t *testing.T, name string, edit func(sc map[string]any)) fs.FS {
	t.Helper()
	raw, err := fs.ReadFile(labmodel.ScenarioFiles, path.Join(labmodel.ScenarioDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var sc map[string]any
	if err := json.Unmarshal(raw, &sc); err != nil {
		t.Fatal(err)
	}
	edit(sc)
	raw, err = json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	return fstest.MapFS{path.Join(labmodel.ScenarioDir, "variant.json"): {Data: raw}}
}

// TestRestoreMistakeAfterTheOriginalWasRecycled: with the AD Recycle Bin
// on, the original object could be restored with its attributes (the
// runbook refuses, above) until its deleted-object lifetime ran out; then
// AD recycles it, nothing can be restored instead, and the runbook goes
// on while the cloud user is still in its recycle bin.
func TestRestoreMistakeAfterTheOriginalWasRecycled(t *testing.T) {
	fsys := scenarioVariant(t, "restore-mistake", func(sc map[string]any) {
		cfg := sc["config"].(map[string]any)
		cfg["adRecycleBin"] = true
		cfg["deletedObjectLifetime"] = "240h" // 10 days; deleted on 2026-04-05
		for _, o := range sc["ad"].([]any) {
			if o := o.(map[string]any); o["isDeleted"] == true {
				o["userPrincipalName"] = "nicki@contoso.com"
				o["mail"] = "nicki@contoso.com"
			}
		}
	})
	l := startLabFrom(t, fsys, "variant")
	if code, body := l.do(http.MethodPost, "/lab/clock?advance=192h", nil); code != http.StatusOK {
		t.Fatalf("advance the clock: %d %v", code, body)
	}
	var orig map[string]any
	for _, o := range l.dump().list("ad") {
		if o["isDeleted"] == true {
			orig = o
		}
	}
	if orig["isRecycled"] != true || orig["userPrincipalName"] != nil {
		t.Fatalf("the original object after its deleted-object lifetime: %v", orig)
	}
	newAD := l.dump().adUser(t, "nicki@contoso.com")
	var log strings.Builder
	rep, err := restoreMistake(l).run(context.Background(), &log)
	if err != nil || rep.Status != journal.StatusSucceeded {
		t.Fatalf("run: %v %+v\n%s", err, rep, log.String())
	}
	u := l.dump().cloudUser(t, "nicki@contoso.com", false)
	if got, want := str(u["onPremisesImmutableId"]), immutableID(t, str(newAD["objectGUID"])); got != want {
		t.Errorf("nicki's immutable ID = %q, want the new AD account's %q", got, want)
	}
}
