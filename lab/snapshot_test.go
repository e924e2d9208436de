package lab

import (
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/snapshot"
)

// A snapshot with a value the lab cannot hold is refused naming the
// object and the attribute.
func TestFromSnapshotRefusesBadValues(t *testing.T) {
	base := func() *snapshot.Snapshot {
		return &snapshot.Snapshot{Format: snapshot.Format, TakenAt: time.Date(2026, 4, 7, 12, 0, 0, 0, time.UTC),
			Organization: snapshot.Organization{ID: "bd5a3aa8-bc8b-401e-8d6a-2d4a9a82de23",
				VerifiedDomains: []snapshot.Domain{{Name: "contoso.onmicrosoft.com", Type: "Managed", IsInitial: true}}},
			AD: snapshot.AD{DomainDN: "DC=corp,DC=example,DC=com", Users: []snapshot.ADUser{{ObjectGUID: "012114da-8d79-4015-8a5f-ddfc20df81db",
				DistinguishedName: "CN=nicki,OU=Users,DC=corp,DC=example,DC=com", UserPrincipalName: "nicki@contoso.com", UserAccountControl: 512}}},
			Recipients: []snapshot.Recipient{{ExchangeObjectID: "r1", Alias: "nicki", ExchangeGUID: "51515151-5151-5151-5151-515151515151"}}}
	}
	tn, err := FromSnapshot(base())
	if err != nil {
		t.Fatal(err)
	}
	if tn.Now() != time.Date(2026, 4, 7, 12, 0, 0, 0, time.UTC) || tn.Config().TenantDomain != "contoso.onmicrosoft.com" {
		t.Errorf("clock %s, tenant domain %s", tn.Now(), tn.Config().TenantDomain)
	}
	s := base()
	s.AD.Users[0].MailboxGUID = "not-a-guid"
	if _, err := FromSnapshot(s); err == nil || !strings.Contains(err.Error(), "ad.users[0] (CN=nicki,OU=Users,DC=corp,DC=example,DC=com): msExchMailboxGuid") {
		t.Errorf("bad GUID: %v", err)
	}
	s = base()
	s.Recipients[0].ArchiveGUID = "x"
	if _, err := FromSnapshot(s); err == nil || !strings.Contains(err.Error(), "recipients[0] (nicki): ArchiveGuid") {
		t.Errorf("bad archive GUID: %v", err)
	}
	s = base()
	s.Organization.VerifiedDomains = append(s.Organization.VerifiedDomains, snapshot.Domain{Name: "contoso.com", Type: "Hybrid"})
	if _, err := FromSnapshot(s); err == nil || !strings.Contains(err.Error(), `domain "contoso.com"`) {
		t.Errorf("bad domain type: %v", err)
	}
}
