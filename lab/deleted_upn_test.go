package lab

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/snapshot"
)

// No Microsoft page says whether a deleted user's UPN keeps its form or
// takes its object id as a prefix (deleted_upn.go: the CLI for Microsoft
// 365's recyclebinitem list sample and msgraph-sdk-powershell#2256 show the
// prefix); Graph's restore page
// (learn.microsoft.com/graph/api/directory-deleteditems-restore) gives the
// original UPN back unless newUserPrincipalName names another. These tests
// hold the lab to both forms.

func nodash(id string) string { return strings.ReplaceAll(id, "-", "") }

// deletedUPNs returns the UPNs the recycle bin answers for a $filter by eq
// on upn and by endswith on it.
func deletedUPNs(tn *Tenant, upn string) (eq, suffix []string) {
	l, _ := tn.CloudUsers(CloudQuery{Deleted: true, UserPrincipalName: upn})
	for _, u := range l {
		eq = append(eq, u.UserPrincipalName)
	}
	l, _ = tn.CloudUsers(CloudQuery{Deleted: true, UPNSuffix: upn})
	for _, u := range l {
		suffix = append(suffix, u.UserPrincipalName)
	}
	return eq, suffix
}

func TestDeletedUPNKeptByDefault(t *testing.T) {
	tn := New(Config{})
	u := mustAdd(t, tn, CloudUser{UserPrincipalName: "kim@contoso.com"})
	must(t, tn.DeleteCloudUser(u.ID))
	d, err := tn.DeletedCloudUser(u.ID)
	if err != nil || d.UserPrincipalName != "kim@contoso.com" {
		t.Fatalf("deleted user: %+v, %v; want UPN kim@contoso.com", d, err)
	}
	if eq, _ := deletedUPNs(tn, "kim@contoso.com"); len(eq) != 1 {
		t.Errorf("$filter eq on the UPN found %v, want the deleted user", eq)
	}
	r, err := tn.RestoreCloudUser(u.ID, RestoreOptions{})
	if err != nil || r.UserPrincipalName != "kim@contoso.com" {
		t.Fatalf("restored: %+v, %v", r, err)
	}
}

func TestDeletedUPNPrefixedOnGraphDelete(t *testing.T) {
	tn := New(Config{DeletedUPNPrefix: true})
	u := mustAdd(t, tn, CloudUser{UserPrincipalName: "kim@contoso.com", ProxyAddresses: []string{"SMTP:kim@contoso.com"}})
	must(t, tn.DeleteCloudUser(u.ID))
	want := nodash(u.ID) + "kim@contoso.com"
	d, err := tn.DeletedCloudUser(u.ID)
	if err != nil || d.UserPrincipalName != want {
		t.Fatalf("deleted user: %q, %v; want %q", d.UserPrincipalName, err, want)
	}
	// deletedItems answers the UPN it shows: eq on the original finds
	// nothing, eq on the prefixed form and endswith on the original find it.
	if eq, suffix := deletedUPNs(tn, "kim@contoso.com"); len(eq) != 0 || !reflect.DeepEqual(suffix, []string{want}) {
		t.Errorf("eq kim@contoso.com = %v (want none), endswith = %v (want %s)", eq, suffix, want)
	}
	if eq, _ := deletedUPNs(tn, want); !reflect.DeepEqual(eq, []string{want}) {
		t.Errorf("eq %s = %v", want, eq)
	}
	if _, err := tn.CloudUser("kim@contoso.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("active lookup of the UPN: %v, want ErrNotFound", err)
	}

	// The restore conflict check uses the original UPN: an active user
	// holding it blocks the restore, newUserPrincipalName wins.
	other := mustAdd(t, tn, CloudUser{UserPrincipalName: "kim@contoso.com"})
	if _, err := tn.RestoreCloudUser(u.ID, RestoreOptions{}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "userPrincipalName kim@contoso.com is held by "+other.ID) {
		t.Fatalf("restore with the original UPN taken: %v, want ErrConflict naming kim@contoso.com", err)
	}
	r, err := tn.RestoreCloudUser(u.ID, RestoreOptions{NewUserPrincipalName: "kim.old@contoso.com"})
	if err != nil || r.UserPrincipalName != "kim.old@contoso.com" {
		t.Fatalf("restore under a new UPN: %+v, %v", r, err)
	}
	// Deleted again and restored with the UPN free: the original comes back.
	must(t, tn.DeleteCloudUser(other.ID))
	must(t, tn.DeleteCloudUser(u.ID))
	if d, _ := tn.DeletedCloudUser(u.ID); d.UserPrincipalName != nodash(u.ID)+"kim.old@contoso.com" {
		t.Fatalf("deleted again: %q", d.UserPrincipalName)
	}
	r, err = tn.RestoreCloudUser(u.ID, RestoreOptions{})
	if err != nil || r.UserPrincipalName != "kim.old@contoso.com" {
		t.Fatalf("restored: %+v, %v; want kim.old@contoso.com", r, err)
	}
	if got, err := tn.CloudUser("kim.old@contoso.com"); err != nil || got.ID != u.ID {
		t.Fatalf("lookup by the restored UPN: %+v, %v", got, err)
	}
}

// restoreMistakeRun replays seed 000 without duplicate attribute resiliency
// (as TestRestoreMistakeLoop) and returns every cycle's result and the
// UPN the deleted user shows.
func restoreMistakeRun(t *testing.T, prefix bool) ([]SyncResult, string, CloudUser) {
	t.Helper()
	tn := syncedTenant(t, Config{DeletedUPNPrefix: prefix}, "nicki")
	tn.SetDuplicateResiliency(false)
	cu, _ := tn.CloudUser("nicki@contoso.com")
	must(t, tn.DeleteADUser("CN=nicki,"+usersOU))
	var runs []SyncResult
	runs = append(runs, mustSync(t, tn, Delta))
	d, err := tn.DeletedCloudUser(cu.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sd := mailbox(t, tn, "nicki@contoso.com", true); !sd.SoftDeleted() {
		t.Fatal("mailbox not soft-deleted with the user")
	}
	neu := mustADUser(t, tn, "nicki")
	// A cycle with the user still in the recycle bin: the new AD user's
	// UPN is the deleted user's.
	runs = append(runs, mustSync(t, tn, Delta))
	r, err := tn.RestoreCloudUser(cu.ID, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.UserPrincipalName != "nicki@contoso.com" {
		t.Fatalf("restored under %q, want nicki@contoso.com", r.UserPrincipalName)
	}
	runs = append(runs, mustSync(t, tn, Delta))
	if _, err := tn.RestoreCloudUser(cu.ID, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.PatchCloudUser(cu.ID, CloudUserPatch{ClearImmutableID: true}); err != nil {
		t.Fatal(err)
	}
	runs = append(runs, mustSync(t, tn, Initial))
	got, err := tn.CloudUser("nicki@contoso.com")
	if err != nil || got.ID != cu.ID || got.OnPremisesImmutableID != neu.ObjectGUID.ImmutableID() {
		t.Fatalf("after the fix: %+v, %v", got, err)
	}
	return runs, d.UserPrincipalName, got
}

// Sync finds what it found with the prefix on: the same cycles report the
// same errors, deletions and matches, deleting by sync prefixes the UPN,
// and the fix of seed 000 ends the same.
func TestDeletedUPNPrefixLeavesSyncAlone(t *testing.T) {
	plain, plainUPN, plainEnd := restoreMistakeRun(t, false)
	pre, preUPN, preEnd := restoreMistakeRun(t, true)
	if plainUPN != "nicki@contoso.com" {
		t.Errorf("deleted by sync, prefix off: %q", plainUPN)
	}
	if want := nodash(preEnd.ID) + "nicki@contoso.com"; preUPN != want {
		t.Errorf("deleted by sync, prefix on: %q, want %q", preUPN, want)
	}
	if e := pre[1].Errors; len(e) != 1 || e[0].Code != CodeAttributeValueMustBeUnique || e[0].CloudUserID != preEnd.ID {
		t.Errorf("cycle with the user in the recycle bin, prefix on: %+v; want the soft match refused against it", pre[1])
	}
	for i := range plain {
		a, b := plain[i], pre[i]
		a.ID, b.ID = "", ""
		// The error's text names the deleted user by the UPN it shows.
		b.Errors = append([]SyncError(nil), b.Errors...)
		for j := range b.Errors {
			b.Errors[j].Detail = strings.ReplaceAll(b.Errors[j].Detail, nodash(preEnd.ID)+"nicki@", "nicki@")
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("cycle %d differs:\nprefix off %+v\nprefix on  %+v", i, a, b)
		}
	}
	if plainEnd.UserPrincipalName != preEnd.UserPrincipalName || plainEnd.OnPremisesImmutableID != preEnd.OnPremisesImmutableID {
		t.Errorf("end state differs: %+v / %+v", plainEnd, preEnd)
	}
}

// An AD object reanimated from the AD Recycle Bin brings its cloud user
// back under its original UPN.
func TestDeletedUPNPrefixReanimation(t *testing.T) {
	tn := syncedTenant(t, Config{ADRecycleBin: true, DeletedUPNPrefix: true}, "nicki")
	cu, _ := tn.CloudUser("nicki@contoso.com")
	must(t, tn.DeleteADUser("CN=nicki,"+usersOU))
	mustSync(t, tn, Delta)
	if d, _ := tn.DeletedCloudUser(cu.ID); d.UserPrincipalName != nodash(cu.ID)+"nicki@contoso.com" {
		t.Fatalf("deleted by sync: %q", d.UserPrincipalName)
	}
	old, _ := tn.SearchAD(ADQuery{ShowDeleted: true})
	if _, err := tn.ReanimateADUser(old[0].ObjectGUID.String(), ""); err != nil {
		t.Fatal(err)
	}
	if res := mustSync(t, tn, Delta); res.Restored != 1 || len(res.Errors) != 0 {
		t.Fatalf("cycle after reanimation = %+v", res)
	}
	got, err := tn.CloudUser("nicki@contoso.com")
	if err != nil || got.ID != cu.ID || len(got.OnPremisesProvisioningErrors) > 0 {
		t.Fatalf("after reanimation: %+v, %v", got, err)
	}
}

// A scenario sets the option in its config; a user it lists in the
// recycle bin under its original UPN shows prefixed, and saving and
// loading again does not prefix it twice. Switching the option on a loaded
// tenant renames the users already in the recycle bin.
func TestDeletedUPNPrefixInScenarioAndSwitch(t *testing.T) {
	del := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	id := "f0690b7f-c6c6-4b85-8ded-ea7f07245334"
	st := State{Config: Config{DeletedUPNPrefix: true}, Users: []CloudUser{{ID: id, UserPrincipalName: "nicki@contoso.com", DeletedDateTime: &del}}}
	tn, err := FromState(st)
	if err != nil {
		t.Fatal(err)
	}
	want := nodash(id) + "nicki@contoso.com"
	if d, _ := tn.DeletedCloudUser(id); d.UserPrincipalName != want {
		t.Fatalf("loaded: %q, want %q", d.UserPrincipalName, want)
	}
	var buf strings.Builder
	if err := tn.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"deletedUPNPrefix": true`) {
		t.Errorf("saved state lacks the option: %.400s", buf.String())
	}
	again, err := Load(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.DeletedCloudUser(id); d.UserPrincipalName != want {
		t.Fatalf("loaded again: %q, want %q", d.UserPrincipalName, want)
	}
	again.SetDeletedUPNPrefix(false)
	if d, _ := again.DeletedCloudUser(id); d.UserPrincipalName != "nicki@contoso.com" {
		t.Fatalf("switched off: %q", d.UserPrincipalName)
	}
	again.SetDeletedUPNPrefix(true)
	if eq, _ := deletedUPNs(again, want); len(eq) != 1 {
		t.Fatalf("switched on: eq %s found %v", want, eq)
	}
	if r, err := again.RestoreCloudUser(id, RestoreOptions{}); err != nil || r.UserPrincipalName != "nicki@contoso.com" {
		t.Fatalf("restored: %+v, %v", r, err)
	}
}

// A twin of a tenant whose recycle bin shows prefixed UPNs restores such a
// user under its original UPN, keeps the other deleted users' UPNs as the
// snapshot shows them, and prefixes the users it deletes from then on.
func TestTwinRestoresAPrefixedDeletedUserUnderItsUPN(t *testing.T) {
	del := time.Date(2026, 4, 5, 9, 0, 0, 0, time.UTC)
	id := "f0690b7f-c6c6-4b85-8ded-ea7f07245334"
	s := &snapshot.Snapshot{Format: snapshot.Format, TakenAt: time.Date(2026, 4, 7, 12, 0, 0, 0, time.UTC),
		Organization: snapshot.Organization{ID: "bd5a3aa8-bc8b-401e-8d6a-2d4a9a82de23",
			VerifiedDomains: []snapshot.Domain{{Name: "contoso.onmicrosoft.com", Type: "Managed", IsInitial: true}}},
		AD: snapshot.AD{DomainDN: "DC=corp,DC=example,DC=com"},
		Users: []snapshot.User{
			{ID: id, UserPrincipalName: nodash(id) + "nicki@contoso.com", DeletedDateTime: &del},
			{ID: "0b0b0b0b-0000-4000-8000-000000000001", UserPrincipalName: "leaver@contoso.com", DeletedDateTime: &del},
			{ID: "0b0b0b0b-0000-4000-8000-000000000002", UserPrincipalName: "kim@contoso.com", AccountEnabled: true},
		}}
	tn, err := FromSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	if !tn.Config().DeletedUPNPrefix {
		t.Error("the twin does not prefix deleted users as the tenant does")
	}
	if d, _ := tn.DeletedCloudUser("0b0b0b0b-0000-4000-8000-000000000001"); d.UserPrincipalName != "leaver@contoso.com" {
		t.Errorf("a deleted user the snapshot shows unprefixed: %q", d.UserPrincipalName)
	}
	r, err := tn.RestoreCloudUser(id, RestoreOptions{})
	if err != nil || r.UserPrincipalName != "nicki@contoso.com" {
		t.Fatalf("restored: %+v, %v; want nicki@contoso.com", r, err)
	}
	if got, err := tn.CloudUser("nicki@contoso.com"); err != nil || got.ID != id {
		t.Fatalf("lookup by UPN after restore: %+v, %v", got, err)
	}
	must(t, tn.DeleteCloudUser("kim@contoso.com"))
	if d, _ := tn.DeletedCloudUser("0b0b0b0b-0000-4000-8000-000000000002"); d.UserPrincipalName != "0b0b0b0b000040008000000000000002kim@contoso.com" {
		t.Errorf("deleted in the twin: %q", d.UserPrincipalName)
	}
}

// An AD user whose UPN a cloud user in the recycle bin held (no address to
// soft match on) meets the same conflict with the prefix on as off: the
// duplicate attribute resiliency page's quarantine, whatever form the
// deleted user shows.
func TestDeletedUPNPrefixKeepsTheUPNConflict(t *testing.T) {
	run := func(prefix bool) (SyncResult, CloudUser) {
		tn := New(Config{DeletedUPNPrefix: prefix})
		c := mustAdd(t, tn, CloudUser{UserPrincipalName: "kim@contoso.com"})
		must(t, tn.DeleteCloudUser(c.ID))
		a, err := tn.AddADUser(ADUser{DN: "CN=kim," + usersOU, SAMAccountName: "kim", UserPrincipalName: "kim@contoso.com", DisplayName: "kim"})
		if err != nil {
			t.Fatal(err)
		}
		res := mustSync(t, tn, Delta)
		l, _ := tn.CloudUsers(CloudQuery{ImmutableID: a.Anchor()})
		if len(l) != 1 {
			t.Fatalf("prefix %v: %d users hold the new anchor", prefix, len(l))
		}
		res.ID = ""
		for i := range res.Errors {
			res.Errors[i].Detail = strings.ReplaceAll(res.Errors[i].Detail, l[0].ID, "NEW")
		}
		return res, l[0]
	}
	off, offUser := run(false)
	on, onUser := run(true)
	if !hasError(off, CodeAttributeValueMustBeUnique, "UserPrincipalName") {
		t.Fatalf("prefix off: %+v; want the UPN conflict", off)
	}
	if !reflect.DeepEqual(off, on) {
		t.Errorf("cycle differs:\noff %+v\non  %+v", off, on)
	}
	if !strings.HasPrefix(onUser.UserPrincipalName, "kim+") || !strings.HasPrefix(offUser.UserPrincipalName, "kim+") {
		t.Errorf("new users' UPNs %q / %q, want both quarantined kim+NNNN@", offUser.UserPrincipalName, onUser.UserPrincipalName)
	}
}
