package lab

import (
	"errors"
	"testing"
)

func TestRestoreConflicts(t *testing.T) {
	tn := New(Config{})
	old := mustAdd(t, tn, CloudUser{UserPrincipalName: "kim@contoso.com", ProxyAddresses: []string{"SMTP:kim@contoso.com", "smtp:k@contoso.com"}})
	must(t, tn.DeleteCloudUser(old.ID))
	neu := mustAdd(t, tn, CloudUser{UserPrincipalName: "kim@contoso.com", ProxyAddresses: []string{"SMTP:kim2@contoso.com", "smtp:k@contoso.com"}})
	if _, err := tn.RestoreCloudUser(old.ID, RestoreOptions{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("restore with the UPN taken: %v, want ErrConflict", err)
	}
	if _, err := tn.RestoreCloudUser(old.ID, RestoreOptions{NewUserPrincipalName: "kim.old@contoso.com"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("restore with a proxy address taken: %v, want ErrConflict", err)
	}
	got, err := tn.RestoreCloudUser(old.ID, RestoreOptions{NewUserPrincipalName: "kim.old@contoso.com", AutoReconcileProxyConflict: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.UserPrincipalName != "kim.old@contoso.com" || len(got.ProxyAddresses) != 1 || got.ProxyAddresses[0] != "SMTP:kim@contoso.com" {
		t.Fatalf("restored = %+v", got)
	}
	id := "Hrz/HqNKnU+lCNTYHx9Ycw=="
	if _, err := tn.PatchCloudUser(neu.ID, CloudUserPatch{ImmutableID: &id}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.PatchCloudUser(got.ID, CloudUserPatch{ImmutableID: &id}); !errors.Is(err, ErrConflict) {
		t.Fatalf("a second user with the same immutable ID: %v, want ErrConflict", err)
	}
	if err := tn.PurgeCloudUser(neu.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("purging an active user: %v, want ErrNotFound", err)
	}
}
