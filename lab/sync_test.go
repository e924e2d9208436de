package lab

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// syncedTenant returns a tenant whose AD users names are synced and
// licensed, each with a mailbox.
func syncedTenant(t *testing.T, cfg Config, names ...string) *Tenant {
	t.Helper()
	tn := New(cfg)
	for _, n := range names {
		mustADUser(t, tn, n)
	}
	mustSync(t, tn, Initial)
	for _, n := range names {
		license(t, tn, n+"@contoso.com")
	}
	return tn
}

func mustSync(t *testing.T, tn *Tenant, p SyncPolicy) SyncResult {
	t.Helper()
	res, err := tn.SyncCycle(p)
	if err != nil {
		t.Fatalf("%s cycle: %v", p, err)
	}
	return res
}

func license(t *testing.T, tn *Tenant, upn string) CloudUser {
	t.Helper()
	u, err := tn.CloudUser(upn)
	if err != nil {
		t.Fatal(err)
	}
	lic := []string{LicenseE3}
	u, err = tn.PatchCloudUser(u.ID, CloudUserPatch{AssignedLicenses: &lic})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mailbox(t *testing.T, tn *Tenant, upn string, softDeleted bool) Recipient {
	t.Helper()
	l := tn.Recipients(RecipientQuery{Identity: upn, Type: UserMailbox, IncludeSoftDeleted: softDeleted})
	if len(l) != 1 {
		t.Fatalf("mailboxes of %s: %d, want 1", upn, len(l))
	}
	return l[0]
}

func hasError(res SyncResult, code, attr string) bool {
	for _, e := range res.Errors {
		if e.Code == code && (attr == "" || e.Attribute == attr) {
			return true
		}
	}
	return false
}

// TestRestoreMistakeLoop reproduces seed 000: the AD user is deleted, a new
// one is created with the same UPN, the admin restores the cloud user; every
// cycle deletes it again until its immutable ID is cleared, then an Initial
// cycle soft matches it to the new AD user and the mailbox keeps its
// ExchangeGuid.
// TestRestoreMistakeLoop replays seed 000 in a tenant without duplicate
// attribute resiliency, as the seed's was: every cycle reports the
// conflict and deletes the restored user, and nothing else is provisioned
// (TestRestoreMistakeWithResiliency covers today's default).
func TestRestoreMistakeLoop(t *testing.T) {
	tn := syncedTenant(t, Config{}, "nicki")
	tn.SetDuplicateResiliency(false)
	old, _ := tn.ADUser("CN=nicki," + usersOU)
	cu, _ := tn.CloudUser("nicki@contoso.com")
	mb := mailbox(t, tn, "nicki@contoso.com", false)

	if err := tn.DeleteADUser(old.DN); err != nil {
		t.Fatal(err)
	}
	res := mustSync(t, tn, Delta)
	if res.Deleted != 1 {
		t.Fatalf("deletion cycle deleted %d, want 1", res.Deleted)
	}
	if _, err := tn.DeletedCloudUser(cu.ID); err != nil {
		t.Fatalf("cloud user not in the recycle bin: %v", err)
	}
	if sd := mailbox(t, tn, "nicki@contoso.com", true); !sd.SoftDeleted() {
		t.Fatal("mailbox not soft-deleted with the user")
	}
	neu := mustADUser(t, tn, "nicki")
	for i := 0; i < 3; i++ {
		r, err := tn.RestoreCloudUser(cu.ID, RestoreOptions{})
		if err != nil {
			t.Fatalf("restore %d: %v", i, err)
		}
		if r.OnPremisesImmutableID != old.ObjectGUID.ImmutableID() || r.Synced() {
			t.Fatalf("restored user = %+v; want old anchor, cloud-managed", r)
		}
		if got := mailbox(t, tn, "nicki@contoso.com", false); got.ExchangeGUID != mb.ExchangeGUID {
			t.Fatalf("restored mailbox ExchangeGuid %s, want %s", got.ExchangeGUID, mb.ExchangeGUID)
		}
		res := mustSync(t, tn, Delta)
		if !hasError(res, CodeAttributeValueMustBeUnique, "") || res.Deleted != 1 {
			t.Fatalf("cycle %d after restore = %+v; want AttributeValueMustBeUnique and one deletion", i, res)
		}
		if _, err := tn.DeletedCloudUser(cu.ID); err != nil {
			t.Fatalf("cycle %d did not delete the restored user: %v", i, err)
		}
		if l, _ := tn.CloudUsers(CloudQuery{ImmutableID: neu.ObjectGUID.ImmutableID()}); len(l) != 0 {
			t.Fatalf("cycle %d provisioned the new AD user separately: %+v", i, l)
		}
	}
	if _, err := tn.RestoreCloudUser(cu.ID, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.PatchCloudUser(cu.ID, CloudUserPatch{ClearImmutableID: true}); err != nil {
		t.Fatalf("clear immutable ID of the restored user: %v", err)
	}
	res = mustSync(t, tn, Initial)
	if len(res.Errors) != 0 || res.Deleted != 0 {
		t.Fatalf("Initial cycle after clearing = %+v", res)
	}
	got, err := tn.CloudUser(cu.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.OnPremisesImmutableID != neu.ObjectGUID.ImmutableID() || !got.Synced() {
		t.Fatalf("after soft match: immutable ID %q synced %v; want %q synced", got.OnPremisesImmutableID, got.Synced(), neu.ObjectGUID.ImmutableID())
	}
	if got := mailbox(t, tn, "nicki@contoso.com", false); got.ExchangeGUID != mb.ExchangeGUID {
		t.Fatalf("mailbox ExchangeGuid %s, want %s", got.ExchangeGUID, mb.ExchangeGUID)
	}
	if res := mustSync(t, tn, Delta); len(res.Errors) != 0 || res.Deleted != 0 {
		t.Fatalf("next delta = %+v", res)
	}
}

// TestRestoreOriginalADObject is the better fix of seed 000: reanimating
// annBeside makes a tenant holding the cloud user cloud (its organization
// changed by org when not nil), adds the AD user ann and runs a Delta
// cycle.
func annBeside(t *testing.T, org func(o *Organization), cloud CloudUser) (*Tenant, CloudUser, ADUser, SyncResult) {
	t.Helper()
	tn := New(Config{})
	if org != nil {
		org(&tn.org)
	}
	c, err := tn.AddCloudUser(cloud)
	if err != nil {
		t.Fatal(err)
	}
	a := mustADUser(t, tn, "ann")
	return tn, c, a, mustSync(t, tn, Delta)
}

// the original AD object hard matches and brings the cloud user back.
func TestRestoreOriginalADObject(t *testing.T) {
	tn := syncedTenant(t, Config{ADRecycleBin: true}, "nicki")
	cu, _ := tn.CloudUser("nicki@contoso.com")
	mb := mailbox(t, tn, "nicki@contoso.com", false)
	_ = tn.DeleteADUser("CN=nicki," + usersOU)
	mustSync(t, tn, Delta)
	if _, err := tn.ReanimateADUser(cu.OnPremisesImmutableID, ""); err == nil {
		t.Fatal("an immutable ID is not a GUID reference; want an error")
	}
	old, _ := tn.SearchAD(ADQuery{ShowDeleted: true})
	if _, err := tn.ReanimateADUser(old[0].ObjectGUID.String(), ""); err != nil {
		t.Fatal(err)
	}
	res := mustSync(t, tn, Delta)
	if res.Restored != 1 || len(res.Errors) != 0 {
		t.Fatalf("cycle after reanimation = %+v", res)
	}
	got, err := tn.CloudUser(cu.ID)
	if err != nil || !got.Synced() {
		t.Fatalf("cloud user after reanimation: %+v, %v", got, err)
	}
	if m := mailbox(t, tn, "nicki@contoso.com", false); m.ExchangeGUID != mb.ExchangeGUID {
		t.Fatal("mailbox not restored with its ExchangeGuid")
	}
}

func TestHardMatchTakesOverCloudUser(t *testing.T) {
	tn := New(Config{})
	a := mustADUser(t, tn, "ann")
	c, err := tn.AddCloudUser(CloudUser{UserPrincipalName: "ann.cloud@contoso.com", DisplayName: "Cloud Ann",
		OnPremisesImmutableID: a.ObjectGUID.ImmutableID(), OnPremisesSyncEnabled: boolPtr(false)})
	if err != nil {
		t.Fatal(err)
	}
	res := mustSync(t, tn, Delta)
	if res.Added != 0 || len(res.Errors) != 0 {
		t.Fatalf("cycle = %+v; want a join, no new object", res)
	}
	got, _ := tn.CloudUser(c.ID)
	if !got.Synced() || got.UserPrincipalName != "ann@contoso.com" || got.DisplayName != "ann" {
		t.Fatalf("hard-matched user = %+v; AD values must overwrite cloud values", got)
	}
}

func TestHardMatchUsesConsistencyGuid(t *testing.T) {
	tn := New(Config{})
	a := mustADUser(t, tn, "ann")
	other := newTestGUID(7)
	if _, err := tn.UpdateADUser(a.DN, func(u *ADUser) { u.ConsistencyGUID = other }); err != nil {
		t.Fatal(err)
	}
	mustSync(t, tn, Delta)
	got, _ := tn.CloudUser("ann@contoso.com")
	if got.OnPremisesImmutableID != other.ImmutableID() {
		t.Fatalf("immutable ID %s, want mS-DS-ConsistencyGuid's %s", got.OnPremisesImmutableID, other.ImmutableID())
	}
}

func TestSoftMatch(t *testing.T) {
	cases := []struct {
		name     string
		org      func(o *Organization)
		cloud    CloudUser
		wantJoin bool
		wantCode string
	}{
		{name: "primary SMTP", cloud: CloudUser{UserPrincipalName: "other@contoso.com", ProxyAddresses: []string{"SMTP:ann@contoso.com"}}, wantJoin: true},
		{name: "UPN", cloud: CloudUser{UserPrincipalName: "ann@contoso.com"}, wantJoin: true},
		{name: "secondary smtp does not match", cloud: CloudUser{UserPrincipalName: "x@contoso.com", ProxyAddresses: []string{"SMTP:x@contoso.com", "smtp:ann@contoso.com"}}},
		// Refused soft matches in a tenant without duplicate attribute
		// resiliency: the AD object is blocked (TestResiliencyProvisions
		// covers the default).
		{name: "immutable ID present", org: preResiliency, cloud: CloudUser{UserPrincipalName: "ann@contoso.com", OnPremisesImmutableID: "Hrz/HqNKnU+lCNTYHx9Ycw=="}, wantCode: CodeAttributeValueMustBeUnique},
		{name: "admin role", org: preResiliency, cloud: CloudUser{UserPrincipalName: "ann@contoso.com", DirectoryRoles: []string{"Global Administrator"}}, wantCode: CodeAttributeValueMustBeUnique},
		{name: "blocked", org: func(o *Organization) { o.BlockSoftMatch, o.NoDuplicateResiliency = true, true }, cloud: CloudUser{UserPrincipalName: "ann@contoso.com"}, wantCode: CodeAttributeValueMustBeUnique},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tn, c, a, res := annBeside(t, tc.org, tc.cloud)
			got, _ := tn.CloudUser(c.ID)
			joined := got.OnPremisesImmutableID == a.ObjectGUID.ImmutableID()
			if joined != tc.wantJoin {
				t.Fatalf("joined = %v, want %v (result %+v)", joined, tc.wantJoin, res)
			}
			if tc.wantCode != "" {
				if !hasError(res, tc.wantCode, "") || len(got.OnPremisesProvisioningErrors) == 0 {
					t.Fatalf("want %s recorded, got %+v / %+v", tc.wantCode, res.Errors, got.OnPremisesProvisioningErrors)
				}
				if l, _ := tn.CloudUsers(CloudQuery{ImmutableID: a.ObjectGUID.ImmutableID()}); len(l) != 0 {
					t.Fatal("a refused soft match still provisioned the AD user")
				}
			}
		})
	}
}

func preResiliency(o *Organization) { o.NoDuplicateResiliency = true }

// TestRestoreMistakeWithResiliency: seed 000's events with duplicate
// attribute resiliency. The first cycle provisions the new AD account as a
// second cloud user holding its anchor, and the seed's fix (restore, clear
// the immutable ID, Initial cycle) no longer binds the restored user: the
// AD account hard matches the duplicate. This is the case the bundled
// runbooks look for before they write an anchor.
func TestRestoreMistakeWithResiliency(t *testing.T) {
	tn := syncedTenant(t, Config{}, "nicki")
	old, _ := tn.ADUser("CN=nicki," + usersOU)
	cu, _ := tn.CloudUser("nicki@contoso.com")
	must(t, tn.DeleteADUser(old.DN))
	mustSync(t, tn, Delta)
	neu := mustADUser(t, tn, "nicki")
	if _, err := tn.RestoreCloudUser(cu.ID, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, tn, Delta)
	dups, _ := tn.CloudUsers(CloudQuery{ImmutableID: neu.Anchor()})
	if len(dups) != 1 || dups[0].ID == cu.ID {
		t.Fatalf("want one duplicate holding the new anchor, got %+v", dups)
	}
	if _, err := tn.RestoreCloudUser(cu.ID, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	must(t, func() error { _, err := tn.PatchCloudUser(cu.ID, CloudUserPatch{ClearImmutableID: true}); return err }())
	mustSync(t, tn, Initial)
	if got, _ := tn.CloudUser(cu.ID); got.Synced() || got.OnPremisesImmutableID == neu.Anchor() {
		t.Fatalf("the restored user was bound although a duplicate holds the anchor: %+v", got)
	}
}

// TestResiliencyProvisions: with duplicate attribute resiliency (the
// default), a soft match that is refused does not block the AD object: it
// is provisioned as a new cloud user holding its anchor, with the UPN
// replaced by <prefix>+<4 digits>@<initial domain>, the conflicting proxy
// address dropped and the conflicts recorded on the new user
// (learn.microsoft.com/entra/identity/hybrid/connect/
// how-to-connect-syncservice-duplicate-attribute-resiliency; "you won't see
// the InvalidSoftMatch synchronization errors seen during provisioning of
// new objects", tshoot-connect-sync-errors#invalidsoftmatch).
func TestResiliencyProvisions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		org   func(o *Organization)
		cloud CloudUser
	}{
		{name: "immutable ID present", cloud: CloudUser{UserPrincipalName: "ann@contoso.com", ProxyAddresses: []string{"SMTP:ann@contoso.com"}, OnPremisesImmutableID: "Hrz/HqNKnU+lCNTYHx9Ycw=="}},
		{name: "admin role", cloud: CloudUser{UserPrincipalName: "ann@contoso.com", ProxyAddresses: []string{"SMTP:ann@contoso.com"}, DirectoryRoles: []string{"Global Administrator"}}},
		{name: "soft match blocked", org: func(o *Organization) { o.BlockSoftMatch = true }, cloud: CloudUser{UserPrincipalName: "ann@contoso.com", ProxyAddresses: []string{"SMTP:ann@contoso.com"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn, c, a, res := annBeside(t, tc.org, tc.cloud)
			if got, _ := tn.CloudUser(c.ID); got.OnPremisesImmutableID == a.Anchor() {
				t.Fatal("the refused candidate was taken over")
			}
			l, _ := tn.CloudUsers(CloudQuery{ImmutableID: a.Anchor()})
			if len(l) != 1 || l[0].ID == c.ID || res.Added != 1 {
				t.Fatalf("want one new cloud user holding the anchor, got %+v (result %+v)", l, res)
			}
			dup := l[0]
			if !regexp.MustCompile(`^ann\+\d{4}@contoso\.onmicrosoft\.com$`).MatchString(dup.UserPrincipalName) {
				t.Errorf("duplicate's UPN = %s, want ann+NNNN@contoso.onmicrosoft.com", dup.UserPrincipalName)
			}
			if slices.Contains(dup.ProxyAddresses, "SMTP:ann@contoso.com") {
				t.Errorf("the conflicting proxy address was kept: %v", dup.ProxyAddresses)
			}
			var props []string
			for _, e := range dup.OnPremisesProvisioningErrors {
				props = append(props, e.PropertyCausingError+"="+e.Value)
			}
			if !slices.Contains(props, "UserPrincipalName=ann@contoso.com") || !slices.Contains(props, "ProxyAddresses=SMTP:ann@contoso.com") {
				t.Errorf("the conflicts are not recorded on the new user: %v", props)
			}
			if !dup.Synced() {
				t.Error("the new user is not synced")
			}
		})
	}
}

// TestTakeoverThroughHardMatchBlocked: with
// blockCloudObjectTakeoverThroughHardMatchEnabled on, a hard match to a
// cloud user that is not synced (here: after sync was turned off and on
// again) fails with InvalidHardMatch, every cycle, and the user stays
// cloud-managed; turning the feature off lets the next cycle match
// (learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors#invalidhardmatch).
func TestTakeoverThroughHardMatchBlocked(t *testing.T) {
	tn := syncedTenant(t, Config{}, "ann")
	must(t, tn.SetDirSyncEnabled(false))
	must(t, tn.Advance(73*time.Hour))
	ann, _ := tn.CloudUser("ann@contoso.com")
	if ann.Synced() {
		t.Fatal("ann is still synced after the switch-off")
	}
	must(t, tn.SetDirSyncEnabled(true))
	tn.SetHardMatchTakeoverBlocked(true)
	for i := 0; i < 2; i++ {
		res := mustSync(t, tn, Delta)
		if !hasError(res, CodeInvalidHardMatch, "SourceAnchor") {
			t.Fatalf("cycle %d: errors %+v, want InvalidHardMatch", i, res.Errors)
		}
		if u, _ := tn.CloudUser(ann.ID); u.Synced() {
			t.Fatalf("cycle %d: ann was taken over", i)
		}
	}
	tn.SetHardMatchTakeoverBlocked(false)
	res := mustSync(t, tn, Delta)
	if u, _ := tn.CloudUser(ann.ID); !u.Synced() || len(res.Errors) > 0 {
		t.Fatalf("after the block was lifted: synced=%v errors %+v", u.Synced(), res.Errors)
	}
}

// TestDuplicateQuarantine follows the duplicate attribute resiliency page
// (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-syncservice-duplicate-attribute-resiliency):
// a UPN and a proxy address another user holds are quarantined, reported
// once, and given back by the hourly task once free.
func TestDuplicateQuarantine(t *testing.T) {
	tn := syncedTenant(t, Config{}, "bob")
	bob0, _ := tn.CloudUser("bob@contoso.com")
	carol, err := tn.AddCloudUser(CloudUser{UserPrincipalName: "carol@contoso.com", ProxyAddresses: []string{"SMTP:carol@contoso.com"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tn.UpdateADUser("CN=bob,"+usersOU, func(u *ADUser) {
		u.UserPrincipalName = "carol@contoso.com"
		u.ProxyAddresses = []string{"SMTP:bob@contoso.com", "smtp:carol@contoso.com"}
	})
	if err != nil {
		t.Fatal(err)
	}
	res := mustSync(t, tn, Delta)
	if !hasError(res, CodeAttributeValueMustBeUnique, "UserPrincipalName") || !hasError(res, CodeAttributeValueMustBeUnique, "ProxyAddresses") {
		t.Fatalf("errors = %+v", res.Errors)
	}
	bob, _ := tn.CloudUser(bob0.ID)
	if bob.ID == carol.ID || !strings.HasPrefix(bob.UserPrincipalName, "carol+") || !strings.HasSuffix(bob.UserPrincipalName, "@contoso.onmicrosoft.com") {
		t.Fatalf("bob's UPN = %s, want carol+NNNN@contoso.onmicrosoft.com", bob.UserPrincipalName)
	}
	if len(bob.ProxyAddresses) != 1 || len(bob.OnPremisesProvisioningErrors) != 2 {
		t.Fatalf("bob = %+v; want the duplicate proxy dropped and two errors", bob)
	}
	// The export succeeded: the quarantine is reported once, and an
	// Initial cycle that exports bob again keeps the same quarantined UPN.
	if res := mustSync(t, tn, Initial); len(res.Errors) != 0 {
		t.Fatalf("the quarantine was reported again: %+v", res.Errors)
	}
	if again, _ := tn.CloudUser(bob.ID); again.UserPrincipalName != bob.UserPrincipalName || len(again.OnPremisesProvisioningErrors) != 2 {
		t.Fatalf("quarantine changed: %s -> %+v", bob.UserPrincipalName, again)
	}
	if err := tn.DeleteCloudUser(carol.ID); err != nil {
		t.Fatal(err)
	}
	if err := tn.PurgeCloudUser(carol.ID); err != nil {
		t.Fatal(err)
	}
	// The values come back with the service's hourly sweep, not with a
	// cycle: the sync client does not retry an export that succeeded.
	mustSync(t, tn, Delta)
	if still, _ := tn.CloudUser(bob.ID); still.UserPrincipalName != bob.UserPrincipalName {
		t.Fatalf("a cycle gave the value back: %+v", still)
	}
	must(t, tn.Advance(time.Hour))
	fixed, _ := tn.CloudUser(bob.ID)
	if fixed.UserPrincipalName != "carol@contoso.com" || len(fixed.ProxyAddresses) != 2 || fixed.OnPremisesProvisioningErrors != nil {
		t.Fatalf("after the conflict went: %+v", fixed)
	}
}

func TestDeletionFollowsADAndThreshold(t *testing.T) {
	names := make([]string, 6)
	for i := range names {
		names[i] = "u" + string(rune('a'+i))
	}
	tn := syncedTenant(t, Config{DeletionThreshold: 5, ADRecycleBin: true}, names...)
	for _, n := range names {
		if err := tn.DeleteADUser("CN=" + n + "," + usersOU); err != nil {
			t.Fatal(err)
		}
	}
	res, err := tn.SyncCycle(Delta)
	if !errors.Is(err, ErrDeletionThreshold) || res.Status != StatusDeletionThresholdExceeded {
		t.Fatalf("6 deletions over a threshold of 5: %+v, %v", res, err)
	}
	if l, _ := tn.CloudUsers(CloudQuery{}); len(l) != 6 {
		t.Fatalf("%d cloud users left, want all 6: nothing may be exported", len(l))
	}
	// Restoring one AD object brings the deletions under the threshold.
	if _, err := tn.ReanimateADUser(mustDeleted(t, tn, "ua").ObjectGUID.String(), ""); err != nil {
		t.Fatal(err)
	}
	res = mustSync(t, tn, Delta)
	if res.Deleted != 5 {
		t.Fatalf("deleted %d, want 5", res.Deleted)
	}
	if n := len(tn.Recipients(RecipientQuery{SoftDeletedOnly: true})); n != 5 {
		t.Fatalf("%d soft-deleted mailboxes, want 5", n)
	}
}

func TestDeletionThresholdDefault500(t *testing.T) {
	tn, err := FromState(State{Generate: []Generator{{Count: 501, Name: "user%03d"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range mustSearch(t, tn) {
		_ = tn.DeleteADUser(u.DN)
	}
	if _, err := tn.SyncCycle(Delta); !errors.Is(err, ErrDeletionThreshold) {
		t.Fatalf("501 deletions: %v, want ErrDeletionThreshold", err)
	}
}

func mustDeleted(t *testing.T, tn *Tenant, sam string) ADUser {
	t.Helper()
	l, err := tn.SearchAD(ADQuery{ShowDeleted: true, Match: func(u *ADUser) bool { return u.IsDeleted && u.SAMAccountName == sam }})
	if err != nil || len(l) != 1 {
		t.Fatalf("deleted %s: %v, %v", sam, l, err)
	}
	return l[0]
}

func mustSearch(t *testing.T, tn *Tenant) []ADUser {
	t.Helper()
	l, err := tn.SearchAD(ADQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSyncSwitch72Hours(t *testing.T) {
	tn := syncedTenant(t, Config{}, "ann")
	ann, _ := tn.CloudUser("ann@contoso.com")
	if _, err := tn.PatchCloudUser(ann.ID, CloudUserPatch{ClearImmutableID: true}); !errors.Is(err, ErrRefused) {
		t.Fatalf("clearing a synced user's immutable ID: %v, want ErrRefused", err)
	}
	if err := tn.SetDirSyncEnabled(false); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.SyncCycle(Delta); !errors.Is(err, ErrSyncOff) {
		t.Fatalf("cycle with sync off: %v", err)
	}
	_ = tn.Advance(71 * time.Hour)
	if err := tn.SetDirSyncEnabled(true); !errors.Is(err, ErrRefused) {
		t.Fatalf("turning sync on within 72 h: %v, want ErrRefused", err)
	}
	if _, err := tn.PatchCloudUser(ann.ID, CloudUserPatch{ClearImmutableID: true}); !errors.Is(err, ErrRefused) {
		t.Fatalf("user must stay mastered on premises until the switch completes: %v", err)
	}
	_ = tn.Advance(time.Hour)
	got, _ := tn.CloudUser(ann.ID)
	if got.OnPremisesSyncEnabled == nil || *got.OnPremisesSyncEnabled {
		t.Fatalf("after 72 h onPremisesSyncEnabled = %v, want false", got.OnPremisesSyncEnabled)
	}
	if _, err := tn.PatchCloudUser(ann.ID, CloudUserPatch{ClearImmutableID: true}); err != nil {
		t.Fatalf("clear immutable ID once cloud-managed: %v", err)
	}
	if err := tn.SetDirSyncEnabled(true); err != nil {
		t.Fatal(err)
	}
	if res := mustSync(t, tn, Delta); res.Policy != Initial {
		t.Fatalf("first cycle after turning sync on ran %s, want Initial", res.Policy)
	}
	got, _ = tn.CloudUser(ann.ID)
	if !got.Synced() || got.OnPremisesImmutableID == "" {
		t.Fatalf("full sync did not soft match ann back: %+v", got)
	}
}

func TestRecycleBinExpiry(t *testing.T) {
	tn := syncedTenant(t, Config{}, "ann", "bob")
	ann, _ := tn.CloudUser("ann@contoso.com")
	bobBox := mailbox(t, tn, "bob@contoso.com", false)
	if _, err := tn.SetLitigationHold(bobBox.ExchangeObjectID, true); err != nil {
		t.Fatal(err)
	}
	_ = tn.DeleteADUser("CN=ann," + usersOU)
	_ = tn.DeleteADUser("CN=bob," + usersOU)
	mustSync(t, tn, Delta)
	_ = tn.Advance(30*24*time.Hour - time.Minute)
	if _, err := tn.DeletedCloudUser(ann.ID); err != nil {
		t.Fatalf("gone before 30 days: %v", err)
	}
	if _, err := tn.RestoreCloudUser(ann.ID, RestoreOptions{}); err != nil {
		t.Fatalf("restore on day 29: %v", err)
	}
	_ = tn.DeleteADUser("CN=ann," + usersOU)
	if err := tn.DeleteCloudUser(ann.ID); err != nil {
		t.Fatal(err)
	}
	_ = tn.Advance(30 * 24 * time.Hour)
	if _, err := tn.DeletedCloudUser(ann.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("still in the recycle bin after 30 days: %v", err)
	}
	if l := tn.Recipients(RecipientQuery{IncludeSoftDeleted: true}); len(l) != 1 || l[0].ExchangeGUID != bobBox.ExchangeGUID {
		t.Fatalf("recipients after 30 days = %+v; want only bob's mailbox on hold", l)
	}
	if _, err := tn.SetLitigationHold(bobBox.ExchangeGUID.String(), false); err != nil {
		t.Fatal(err)
	}
	// The release places a delay hold, which keeps the mailbox 30 more
	// days and then lapses by itself.
	_ = tn.Advance(30*24*time.Hour - time.Minute)
	if l := tn.Recipients(RecipientQuery{IncludeSoftDeleted: true}); len(l) != 1 || !l[0].DelayHoldApplied {
		t.Fatalf("released mailbox during its delay hold: %+v", l)
	}
	_ = tn.Advance(time.Minute)
	if l := tn.Recipients(RecipientQuery{IncludeSoftDeleted: true}); len(l) != 0 {
		t.Fatalf("released mailbox past retention and delay hold kept: %+v", l)
	}
}

// TestLeavingSyncScopeDeletes: an object moved out of the synchronised
// containers is deleted in the cloud like a deleted one.
func TestLeavingSyncScopeDeletes(t *testing.T) {
	tn := syncedTenant(t, Config{SyncScope: []string{usersOU}}, "ann")
	if _, err := tn.RenameADUser("CN=ann,"+usersOU, "CN=ann,OU=Parked,DC=corp,DC=example,DC=com"); err != nil {
		t.Fatal(err)
	}
	if res := mustSync(t, tn, Delta); res.Deleted != 1 {
		t.Fatalf("cycle = %+v, want ann deleted", res)
	}
	if _, err := tn.CloudUser("ann@contoso.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ann still active: %v", err)
	}
}

// TestScheduledCyclesRepeatTheLoop: with Connect's 30-minute scheduler on,
// the restored user of seed 000 is deleted again by the next scheduled
// cycle without anyone asking for one.
func TestScheduledCyclesRepeatTheLoop(t *testing.T) {
	tn := syncedTenant(t, Config{SyncInterval: Duration(30 * time.Minute)}, "nicki")
	tn.SetDuplicateResiliency(false) // seed 000's tenant
	cu, _ := tn.CloudUser("nicki@contoso.com")
	must(t, tn.DeleteADUser("CN=nicki,"+usersOU))
	mustADUser(t, tn, "nicki")
	must(t, tn.Advance(29*time.Minute))
	if _, err := tn.CloudUser(cu.ID); err != nil {
		t.Fatalf("deleted before the scheduled cycle: %v", err)
	}
	must(t, tn.Advance(time.Minute))
	if _, err := tn.DeletedCloudUser(cu.ID); err != nil {
		t.Fatalf("the scheduled cycle did not delete the user: %v", err)
	}
	if _, err := tn.RestoreCloudUser(cu.ID, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	must(t, tn.Advance(3*time.Hour))
	if last, _ := tn.LastSync(); last.Started != tn.Now() || !hasError(last, CodeAttributeValueMustBeUnique, "") {
		t.Fatalf("last scheduled cycle = %+v at %v", last, tn.Now())
	}
	if _, err := tn.DeletedCloudUser(cu.ID); err != nil {
		t.Fatalf("restored user not deleted again: %v", err)
	}
}

// TestPreResiliencyExportFails: without duplicate attribute resiliency "if
// an object is updated with a non-unique UPN or ProxyAddress, the update
// fails. The provisioning attempt or update is retried by the sync client
// upon each export cycle" (learn.microsoft.com/entra/identity/hybrid/connect/
// how-to-connect-syncservice-duplicate-attribute-resiliency, "Current
// behavior"): nothing is written, the error comes every cycle, and the
// first cycle after the conflict is gone exports the object.
func TestPreResiliencyExportFails(t *testing.T) {
	tn := syncedTenant(t, Config{}, "bob")
	tn.SetDuplicateResiliency(false)
	bob0, _ := tn.CloudUser("bob@contoso.com")
	carol, err := tn.AddCloudUser(CloudUser{UserPrincipalName: "carol@contoso.com"})
	must(t, err)
	_, err = tn.UpdateADUser("CN=bob,"+usersOU, func(u *ADUser) { u.UserPrincipalName, u.DisplayName = "carol@contoso.com", "Bob B." })
	must(t, err)
	for i := 0; i < 2; i++ {
		res := mustSync(t, tn, Delta)
		if !hasError(res, CodeAttributeValueMustBeUnique, "UserPrincipalName") {
			t.Fatalf("cycle %d: errors %+v", i, res.Errors)
		}
		if b, _ := tn.CloudUser(bob0.ID); b.UserPrincipalName != "bob@contoso.com" || b.DisplayName == "Bob B." {
			t.Fatalf("cycle %d wrote part of a failed update: %+v", i, b)
		}
	}
	must(t, tn.DeleteCloudUser(carol.ID))
	must(t, tn.PurgeCloudUser(carol.ID))
	if res := mustSync(t, tn, Delta); len(res.Errors) != 0 {
		t.Fatalf("errors after the conflict went: %+v", res.Errors)
	}
	if b, _ := tn.CloudUser(bob0.ID); b.UserPrincipalName != "carol@contoso.com" || b.DisplayName != "Bob B." {
		t.Fatalf("after the conflict went: %+v", b)
	}
}
