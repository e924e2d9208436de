package lab

import (
	"errors"
	"strings"
	"testing"
)

// TestFederatedImmutableID: a user whose UPN is in a federated domain keeps
// its immutable ID (the identity the federation service issues; Graph
// requires it at creation for such a UPN, learn.microsoft.com/graph/api/
// user-post-users) until the UPN moves to a managed domain
// (learn.microsoft.com/powershell/module/msonline/set-msoluserprincipalname:
// the move changes the user's authentication type). Clearing it, setting
// it, or both with a UPN that stays federated are refused; moving the UPN
// first, or in the same request, lets it through.
func TestFederatedImmutableID(t *testing.T) {
	tn := New(Config{Domains: []Domain{{Name: "fed.example.com", Type: "Federated"}, {Name: "contoso.com"}}})
	u, err := tn.AddCloudUser(CloudUser{UserPrincipalName: "gil@fed.example.com", OnPremisesImmutableID: "Hrz/HqNKnU+lCNTYHx9Ycw==", OnPremisesSyncEnabled: boolPtr(false)})
	if err != nil {
		t.Fatal(err)
	}
	anc := "yYuRNW0Z6kCXeYidebdT8A=="
	stay := "gil2@fed.example.com"
	for name, p := range map[string]CloudUserPatch{
		"clear":              {ClearImmutableID: true},
		"set":                {ImmutableID: &anc},
		"set, UPN federated": {ImmutableID: &anc, UserPrincipalName: &stay},
	} {
		_, err := tn.PatchCloudUser(u.ID, p)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "federated domain") {
			t.Errorf("%s: got %v, want a refusal naming the federated domain", name, err)
		}
	}
	if got, _ := tn.CloudUser(u.ID); got.OnPremisesImmutableID != "Hrz/HqNKnU+lCNTYHx9Ycw==" || got.UserPrincipalName != "gil@fed.example.com" {
		t.Fatalf("a refused update changed the user: %+v", got)
	}
	managed := "gil@contoso.onmicrosoft.com"
	if _, err := tn.PatchCloudUser(u.ID, CloudUserPatch{UserPrincipalName: &managed}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.PatchCloudUser(u.ID, CloudUserPatch{ClearImmutableID: true}); err != nil {
		t.Fatalf("clear after the UPN moved to a managed domain: %v", err)
	}
	// A managed verified domain is not federated.
	v, _ := tn.AddCloudUser(CloudUser{UserPrincipalName: "hal@contoso.com", OnPremisesImmutableID: "zxfO6vF1mEG6ZufFSlzl0g==", OnPremisesSyncEnabled: boolPtr(false)})
	if _, err := tn.PatchCloudUser(v.ID, CloudUserPatch{ClearImmutableID: true}); err != nil {
		t.Fatalf("managed domain: %v", err)
	}
}

// TestDomainTypeChecked: a scenario naming a domain type other than
// Managed or Federated is refused, naming the domain.
func TestDomainTypeChecked(t *testing.T) {
	_, err := Load(strings.NewReader(`{"config":{"domains":[{"name":"fed.example.com","type":"Federate"}]},"ad":[],"users":[],"recipients":[],"sync":{}}`))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "fed.example.com") || !strings.Contains(err.Error(), "Federate") {
		t.Fatalf("got %v", err)
	}
}
