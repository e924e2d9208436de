package lab

import (
	"errors"
	"strings"
	"testing"
)

// TestLoadHandWrittenScenario: a scenario written by hand may leave out
// GUIDs and bookkeeping; misspelt attributes and duplicates are errors.
func TestLoadHandWrittenScenario(t *testing.T) {
	tn, err := Load(strings.NewReader(`{
	  "ad": [{"distinguishedName": "CN=x,OU=Users,DC=corp,DC=example,DC=com", "userPrincipalName": "x@contoso.com",
	          "msExchMailboxGuid": "1effbc1e-4aa3-4f9d-a508-d4d81f1f5873"}],
	  "generate": [{"count": 3, "name": "g%d", "kind": "ad"}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	x, err := tn.ADUser("CN=x,OU=Users,DC=corp,DC=example,DC=com")
	if err != nil || x.ObjectGUID.IsZero() || x.MailboxGUID.String() != "1effbc1e-4aa3-4f9d-a508-d4d81f1f5873" {
		t.Fatalf("x = %+v, %v", x, err)
	}
	if res, err := tn.SyncCycle(Delta); err != nil || res.Added != 4 {
		t.Fatalf("first cycle = %+v, %v; want the 4 AD users provisioned", res, err)
	}
	for _, bad := range []string{
		`{"ad": [{"distinguishedName": "CN=x,DC=corp,DC=example,DC=com", "userPrincipleName": "x@contoso.com"}]}`,
		`{"ad": [{"distinguishedName": "CN=x,DC=corp,DC=example,DC=com", "msExchMailboxGuid": "nope"}]}`,
		`{"users": [{"id": "a", "userPrincipalName": "a@contoso.com"}, {"id": "A", "userPrincipalName": "b@contoso.com"}]}`,
		`{"generate": [{"count": 2, "name": "no-verb"}]}`,
		`{"nowish": "2026-01-01T00:00:00Z"}`,
	} {
		if _, err := Load(strings.NewReader(bad)); err == nil {
			t.Errorf("Load(%s) succeeded", bad)
		}
	}
	if _, err := Load(strings.NewReader(`{"users": [{"id": "a", "userPrincipalName": "a@c"}, {"id": "a", "userPrincipalName": "b@c"}]}`)); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate ids: %v, want ErrExists", err)
	}
}
