package ad

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/steps"
)

func TestUserDataReadsAnchorsBySelector(t *testing.T) {
	c := needSamba(t).open(t)
	u := newUser(t, c, map[string][]string{
		"mail":           {"alice@corp.example"},
		"proxyAddresses": {"SMTP:alice@corp.example", "smtp:alice@old.example"},
	})
	byUPN := observe(t, "ad_user", c, map[string]any{"upn": u.upn})
	guid := str(byUPN, "object_guid")
	g, err := anchor.ParseGUID(guid)
	if err != nil {
		t.Fatalf("object_guid %q: %v", guid, err)
	}
	// The GUID must be the objectGUID bytes read in AD's order: the raw
	// bytes the DC holds are g.Bytes(), and the immutable ID is their base64.
	raw := readRaw(t, c, u.dn, "objectGUID")
	if len(raw) != 1 || string(raw[0]) != string(g.Bytes()) {
		t.Fatalf("object_guid %s does not stand for the DC's objectGUID bytes % x", guid, raw)
	}
	if got, want := str(byUPN, "immutable_id"), g.ImmutableID(); got != want {
		t.Errorf("immutable_id = %s, want %s", got, want)
	}
	if got := str(byUPN, "consistency_guid"); got != "<null>" {
		t.Errorf("consistency_guid = %s, want null", got)
	}
	if !strings.EqualFold(str(byUPN, "dn"), u.dn) || str(byUPN, "sam_account_name") != u.sam || str(byUPN, "mail") != "alice@corp.example" {
		t.Errorf("user value = %#v", byUPN)
	}
	if n := byUPN.GetAttr("proxy_addresses").LengthInt(); n != 2 {
		t.Errorf("proxy_addresses has %d values, want 2", n)
	}
	if byUPN.GetAttr("deleted").True() {
		t.Error("a live user reads as deleted")
	}
	for _, sel := range []map[string]any{{"sam_account_name": u.sam}, {"dn": u.dn}, {"object_guid": strings.ToUpper(guid)}} {
		if got := str(observe(t, "ad_user", c, sel), "object_guid"); got != guid {
			t.Errorf("ad_user by %v found %s, want %s", sel, got, guid)
		}
	}

	// With mS-DS-ConsistencyGuid set, Connect anchors on it instead.
	cg := "35918bc9-196d-40ea-9779-889d79b753f0"
	mod := ldap.NewModifyRequest(u.dn, nil)
	mod.Replace("mS-DS-ConsistencyGuid", []string{string(mustParse(t, cg).Bytes())})
	if err := c.Modify(mod); err != nil {
		t.Fatal(err)
	}
	v := observe(t, "ad_user", c, map[string]any{"upn": u.upn})
	if str(v, "consistency_guid") != cg || str(v, "immutable_id") != "yYuRNW0Z6kCXeYidebdT8A==" {
		t.Errorf("with mS-DS-ConsistencyGuid: consistency_guid %s immutable_id %s", str(v, "consistency_guid"), str(v, "immutable_id"))
	}
}

func mustParse(t testing.TB, s string) anchor.GUID {
	t.Helper()
	g, err := anchor.ParseGUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestUserDataMissingAndAmbiguousSelectors(t *testing.T) {
	c := needSamba(t).open(t)
	typ, call := dataCall(t, "ad_user", c, map[string]any{"upn": "nobody@rebind.test"})
	_, err := typ.Observe(context.Background(), call)
	if !errors.Is(err, steps.ErrNotFound) {
		t.Errorf("missing user: %v, want ErrNotFound", err)
	}
	typ, call = dataCall(t, "ad_user", c, map[string]any{"dn": "CN=Nobody,CN=Users," + sambaBaseDN})
	if _, err = typ.Observe(context.Background(), call); !errors.Is(err, steps.ErrNotFound) {
		t.Errorf("missing DN: %v, want ErrNotFound", err)
	}
	typ, call = dataCall(t, "ad_user", c, map[string]any{"upn": "a@rebind.test", "sam_account_name": "a"})
	if _, err = typ.Observe(context.Background(), call); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Errorf("two selectors: %v, want an error asking for exactly one", err)
	}
}

func TestUsersDataFollowsPages(t *testing.T) {
	c := needSamba(t).open(t)
	marker := fmt.Sprintf("rebind-paging-%d", userSeq.Add(1))
	const n = 23
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		want[newUser(t, c, map[string][]string{"description": {marker}}).sam] = true
	}
	old := pageSize
	pageSize = 5 // five pages
	t.Cleanup(func() { pageSize = old })
	v := observe(t, "ad_users", c, map[string]any{"filter": "(description=" + marker + ")"})
	users := v.GetAttr("users").AsValueSlice()
	if len(users) != n {
		t.Fatalf("ad_users read %d users, want %d", len(users), n)
	}
	for _, u := range users {
		if !want[str(u, "sam_account_name")] {
			t.Errorf("unexpected user %s", str(u, "sam_account_name"))
		}
	}
	bare := observe(t, "ad_users", c, map[string]any{"filter": "description=" + marker})
	if bare.GetAttr("users").LengthInt() != n {
		t.Errorf("a filter without parentheses read %d users, want %d", bare.GetAttr("users").LengthInt(), n)
	}
	empty := observe(t, "ad_users", c, map[string]any{"filter": "(description=no-such-marker)"})
	if empty.GetAttr("users").LengthInt() != 0 {
		t.Error("a filter matching nobody should give an empty list")
	}
	typ, call := dataCall(t, "ad_users", c, map[string]any{"filter": "(description=unbalanced"})
	if _, err := typ.Observe(context.Background(), call); err == nil {
		t.Error("a malformed filter should fail")
	}
}
