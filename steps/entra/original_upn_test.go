package entra

import (
	"testing"
	"time"
)

// original_upn takes off the prefix of a deleted user's own object id
// without dashes, which real tenants are reported to add in the recycle bin
// (no Microsoft page documents it; see originalUPN), and nothing else.
func TestOriginalUPN(t *testing.T) {
	del := time.Date(2026, 4, 5, 9, 0, 0, 0, time.UTC)
	id := "7e06b566-15f3-4013-8bf8-79874d52e68a"
	for _, tc := range []struct {
		u    user
		want string
	}{
		{user{ID: id, UPN: "7e06b56615f340138bf879874d52e68ajohn@contoso.com", Deleted: &del}, "john@contoso.com"},
		{user{ID: id, UPN: "7E06B56615F340138BF879874D52E68Ajohn@contoso.com", Deleted: &del}, "john@contoso.com"},
		{user{ID: id, UPN: "john@contoso.com", Deleted: &del}, "john@contoso.com"},
		// Another user's id, or an active user, keeps its UPN.
		{user{ID: "0b0b0b0b-0000-4000-8000-000000000001", UPN: "7e06b56615f340138bf879874d52e68ajohn@contoso.com", Deleted: &del}, "7e06b56615f340138bf879874d52e68ajohn@contoso.com"},
		{user{ID: id, UPN: "7e06b56615f340138bf879874d52e68ajohn@contoso.com"}, "7e06b56615f340138bf879874d52e68ajohn@contoso.com"},
		// Nothing before the @ once the prefix is off: not a prefix.
		{user{ID: id, UPN: "7e06b56615f340138bf879874d52e68a@contoso.com", Deleted: &del}, "7e06b56615f340138bf879874d52e68a@contoso.com"},
	} {
		if got := originalUPN(tc.u); got != tc.want {
			t.Errorf("originalUPN(%s, %s) = %q, want %q", tc.u.ID, tc.u.UPN, got, tc.want)
		}
		if got := userValue(tc.u, del).GetAttr("original_upn").AsString(); got != tc.want {
			t.Errorf("original_upn of %s = %q, want %q", tc.u.UPN, got, tc.want)
		}
	}
}
