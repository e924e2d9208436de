package lab

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func errorDetails(u CloudUser) string {
	var b strings.Builder
	for _, e := range u.ServiceProvisioningErrors {
		b.WriteString(e.ErrorDetail)
	}
	return b.String()
}

// TestExchangeAttributesNeedMailNickname: a remote mailbox on premises
// becomes a cloud mail user only once mailNickname is set, because Entra
// Connect's Exchange rule only applies to users that have one.
func TestExchangeAttributesNeedMailNickname(t *testing.T) {
	tn := New(Config{})
	g := newTestGUID(0x42)
	a, err := tn.AddADUser(ADUser{DN: "CN=rita," + usersOU, SAMAccountName: "rita", UserPrincipalName: "rita@contoso.com",
		ProxyAddresses: []string{"SMTP:rita@contoso.com"}, MailboxGUID: g, RecipientTypeDetails: RecipientRemoteUserMailbox,
		TargetAddress: "SMTP:rita@contoso.mail.onmicrosoft.com"})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, tn, Delta)
	c, _ := tn.CloudUser("rita@contoso.com")
	if c.Exchange != nil || len(tn.Recipients(RecipientQuery{})) != 0 {
		t.Fatalf("Exchange attributes flowed without mailNickname: %+v", c.Exchange)
	}
	if _, err := tn.UpdateADUser(a.DN, func(u *ADUser) { u.MailNickname = "rita" }); err != nil {
		t.Fatal(err)
	}
	mustSync(t, tn, Delta)
	c, _ = tn.CloudUser("rita@contoso.com")
	if c.Exchange == nil || c.Exchange.MailboxGUID != g {
		t.Fatalf("Exchange attributes after mailNickname = %+v", c.Exchange)
	}
	l := tn.Recipients(RecipientQuery{Identity: "rita@contoso.com"})
	if len(l) != 1 || l[0].RecipientTypeDetails != MailUser || l[0].ExchangeGUID != g {
		t.Fatalf("recipients = %+v; want a mail user with the on-premises ExchangeGuid", l)
	}
}

// TestArchiveGuidMismatch is seed 002 (a): the user has a cloud archive and
// on premises msExchArchiveGUID is empty; the error clears once it is set to
// the cloud ArchiveGuid.
func TestArchiveGuidMismatch(t *testing.T) {
	tn := syncedTenant(t, Config{}, "arch")
	mb := mailbox(t, tn, "arch@contoso.com", false)
	cloudArchive := newTestGUID(0xa7)
	tn.mu.Lock()
	tn.exo.update(tn.exo.byID[mb.ExchangeObjectID], func(r *Recipient) { r.ArchiveGUID = cloudArchive })
	tn.mu.Unlock()
	_, _ = tn.UpdateADUser("CN=arch,"+usersOU, func(u *ADUser) { u.RecipientTypeDetails = RecipientRemoteUserMailbox })
	mustSync(t, tn, Delta)
	c, _ := tn.CloudUser("arch@contoso.com")
	want := "Failed to sync the ArchiveGuid 00000000-0000-0000-0000-000000000000 of mailbox " + mb.ExchangeObjectID + " because one cloud archive " + cloudArchive.String() + " exists."
	if !strings.Contains(errorDetails(c), want) {
		t.Fatalf("serviceProvisioningErrors = %q, want %q", errorDetails(c), want)
	}
	if _, err := tn.UpdateADUser("CN=arch,"+usersOU, func(u *ADUser) { u.ArchiveGUID = cloudArchive }); err != nil {
		t.Fatal(err)
	}
	mustSync(t, tn, Delta)
	if c, _ = tn.CloudUser("arch@contoso.com"); len(c.ServiceProvisioningErrors) != 0 {
		t.Fatalf("error did not clear: %q", errorDetails(c))
	}
}

// TestExchangeGuidInUse is seed 002 (b): a soft-deleted recipient holds the
// ExchangeGuid; purging it (after releasing a hold) and re-provisioning
// clears the error.
func TestExchangeGuidInUse(t *testing.T) {
	for _, hold := range []bool{false, true} {
		name := "no hold"
		if hold {
			name = "on hold"
		}
		t.Run(name, func(t *testing.T) {
			tn := New(Config{})
			g := newTestGUID(0x5e)
			typ := MailUser
			if hold {
				typ = UserMailbox
			}
			stale, err := tn.AddRecipient(Recipient{ExternalDirectoryObjectID: "0d6c1b0a-0000-4000-8000-000000000001", RecipientTypeDetails: typ,
				UserPrincipalName: "old.erin@contoso.com", ExchangeGUID: g, LitigationHoldEnabled: hold, WhenSoftDeleted: timePtr(Epoch)})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = tn.AddADUser(ADUser{DN: "CN=erin," + usersOU, SAMAccountName: "erin", UserPrincipalName: "erin@contoso.com",
				ProxyAddresses: []string{"SMTP:erin@contoso.com"}, MailNickname: "erin", MailboxGUID: g, RecipientTypeDetails: RecipientRemoteUserMailbox})
			mustSync(t, tn, Delta)
			c, _ := tn.CloudUser("erin@contoso.com")
			want := `The value "` + g.String() + `" of property "ExchangeGuid" is used by another recipient object. Please specify a unique value.`
			if !strings.Contains(errorDetails(c), want) {
				t.Fatalf("serviceProvisioningErrors = %q, want %q", errorDetails(c), want)
			}
			holders := tn.Recipients(RecipientQuery{Identity: g.String(), IncludeSoftDeleted: true})
			if len(holders) != 1 || holders[0].ExchangeObjectID != stale.ExchangeObjectID {
				t.Fatalf("Get-Recipient -IncludeSoftDeletedRecipients %s = %+v", g, holders)
			}
			if hold {
				if err := tn.RemoveRecipient(g.String(), typ); !errors.Is(err, ErrRefused) {
					t.Fatalf("purge on hold: %v, want ErrRefused", err)
				}
				if _, err := tn.SetLitigationHold(g.String(), false); err != nil {
					t.Fatal(err)
				}
				// Releasing a hold places a delay hold for 30 days
				// (learn.microsoft.com/purview/ediscovery-identify-a-hold-on-an-exchange-online-mailbox):
				// the mailbox is still on hold until it is removed.
				if err := tn.RemoveRecipient(g.String(), typ); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "DelayHoldApplied") {
					t.Fatalf("purge on delay hold: %v, want ErrRefused naming DelayHoldApplied", err)
				}
				if r, err := tn.RemoveDelayHold(g.String(), true, true); err != nil || r.DelayHoldApplied {
					t.Fatalf("remove the delay hold: %+v %v", r, err)
				}
			}
			if err := tn.RemoveRecipient(g.String(), typ); err != nil {
				t.Fatal(err)
			}
			// erin's AD object did not change: a cycle exports nothing for
			// her, and retrying her provisioning is what validates her again.
			mustSync(t, tn, Delta)
			if c, _ = tn.CloudUser("erin@contoso.com"); len(c.ServiceProvisioningErrors) == 0 {
				t.Fatal("a cycle that exported nothing for erin cleared her error")
			}
			if _, err := tn.Reprovision(c.ID); err != nil {
				t.Fatal(err)
			}
			c, _ = tn.CloudUser("erin@contoso.com")
			if len(c.ServiceProvisioningErrors) != 0 {
				t.Fatalf("error did not clear: %q", errorDetails(c))
			}
			if l := tn.Recipients(RecipientQuery{Identity: g.String()}); len(l) != 1 || l[0].ExternalDirectoryObjectID != c.ID {
				t.Fatalf("re-provisioned recipient = %+v", l)
			}
		})
	}
}

func TestLicenseRemovalSoftDeletesMailbox(t *testing.T) {
	tn := syncedTenant(t, Config{}, "ann")
	ann, _ := tn.CloudUser("ann@contoso.com")
	mb := mailbox(t, tn, "ann@contoso.com", false)
	none := []string{}
	if _, err := tn.PatchCloudUser(ann.ID, CloudUserPatch{AssignedLicenses: &none}); err != nil {
		t.Fatal(err)
	}
	if sd := mailbox(t, tn, "ann@contoso.com", true); !sd.SoftDeleted() {
		t.Fatal("mailbox not soft-deleted when the license went")
	}
	license(t, tn, "ann@contoso.com")
	if m := mailbox(t, tn, "ann@contoso.com", false); m.ExchangeGUID != mb.ExchangeGUID {
		t.Fatal("license back did not restore the same mailbox")
	}
}

// TestHoldsKeepSoftDeletedMailbox: every kind of hold Get-Mailbox shows
// keeps a soft-deleted mailbox past its retention and refuses
// Remove-Mailbox -PermanentlyDelete, while an exclusion from an
// organization-wide policy (-mbx) holds nothing
// (learn.microsoft.com/purview/ediscovery-identify-a-hold-on-an-exchange-online-mailbox;
// learn.microsoft.com/purview/delete-an-inactive-mailbox). A soft-deleted
// mailbox whose user is still in the Entra recycle bin is refused too.
func TestHoldsKeepSoftDeletedMailbox(t *testing.T) {
	for name, tc := range map[string]struct {
		r    Recipient
		want string // "" when the purge goes through
	}{
		"eDiscovery":       {r: Recipient{InPlaceHolds: []string{"UniH7d895d48-7e23-4a8d-8346-533c3beac15d"}}, want: "eDiscovery hold"},
		"retention policy": {r: Recipient{InPlaceHolds: []string{"mbxcdbbb86ce60342489bff371876e7f224:1"}}, want: "retention policy"},
		"In-Place Hold":    {r: Recipient{InPlaceHolds: []string{"c0ba3ce811b6432a8751430937152491"}}, want: "In-Place Hold"},
		"retention label":  {r: Recipient{ComplianceTagHoldApplied: true}, want: "ComplianceTagHoldApplied"},
		"delay release":    {r: Recipient{DelayReleaseHoldApplied: true}, want: "DelayReleaseHoldApplied"},
		"excluded only":    {r: Recipient{InPlaceHolds: []string{"-mbxe9b52bf7ab3b46a286308ecb29624696"}}},
	} {
		t.Run(name, func(t *testing.T) {
			tn := New(Config{})
			r := tc.r
			r.RecipientTypeDetails, r.Alias, r.UserPrincipalName = UserMailbox, "held", "held@contoso.com"
			r.ExternalDirectoryObjectID = newTestGUID(0x77).String()
			r.WhenSoftDeleted = timePtr(Epoch)
			if _, err := tn.AddRecipient(r); err != nil {
				t.Fatal(err)
			}
			must(t, tn.Advance(31*24*time.Hour))
			l := tn.Recipients(RecipientQuery{Identity: "held@contoso.com", IncludeSoftDeleted: true})
			if tc.want == "" {
				if len(l) != 0 {
					t.Fatalf("a mailbox with no hold was kept past retention: %+v", l)
				}
				return
			}
			if len(l) != 1 {
				t.Fatalf("a held mailbox was purged at retention's end")
			}
			err := tn.RemoveRecipient("held@contoso.com", UserMailbox)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("purge: %v, want a refusal naming %s", err, tc.want)
			}
		})
	}
	t.Run("user in the recycle bin", func(t *testing.T) {
		tn := syncedTenant(t, Config{}, "ann")
		ann, _ := tn.CloudUser("ann@contoso.com")
		must(t, tn.DeleteADUser("CN=ann,"+usersOU))
		mustSync(t, tn, Delta)
		err := tn.RemoveRecipient("ann@contoso.com", UserMailbox)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "recycle bin") {
			t.Fatalf("purge while the user is in the recycle bin: %v", err)
		}
		must(t, tn.PurgeCloudUser(ann.ID))
		if err := tn.RemoveRecipient("ann@contoso.com", UserMailbox); err != nil {
			t.Fatalf("purge after the user was purged: %v", err)
		}
	})
}
