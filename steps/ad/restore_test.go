package ad

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// deleteUser deletes a test user and returns its object GUID.
func deleteUser(t *testing.T, c Directory, u testUser) string {
	t.Helper()
	guid := str(observe(t, "ad_user", c, map[string]any{"upn": u.upn}), "object_guid")
	if err := c.Del(ldap.NewDelRequest(u.dn, nil)); err != nil {
		t.Fatalf("delete %s: %v", u.dn, err)
	}
	return guid
}

func TestDeletedUserReadsTheTombstone(t *testing.T) {
	c := needSamba(t).open(t)
	u := newUser(t, c, nil)
	guid := deleteUser(t, c, u)

	v := observe(t, "ad_deleted_user", c, map[string]any{"object_guid": guid})
	if str(v, "object_guid") != guid || str(v, "name") != u.cn {
		t.Errorf("ad_deleted_user = %#v", v)
	}
	if !strings.Contains(str(v, "dn"), "Deleted Objects") {
		t.Errorf("dn %s is not under CN=Deleted Objects", str(v, "dn"))
	}
	if !strings.EqualFold(str(v, "last_known_parent"), "CN=Users,"+sambaBaseDN) {
		t.Errorf("last_known_parent = %s", str(v, "last_known_parent"))
	}
	if bySAM := observe(t, "ad_deleted_user", c, map[string]any{"sam_account_name": u.sam}); str(bySAM, "object_guid") != guid {
		t.Errorf("by sAMAccountName found %s", str(bySAM, "object_guid"))
	}
	// The live-user data type does not see it.
	typ, call := dataCall(t, "ad_user", c, map[string]any{"object_guid": guid})
	if _, err := typ.Observe(context.Background(), call); !errors.Is(err, steps.ErrNotFound) {
		t.Errorf("ad_user of a deleted user: %v, want ErrNotFound", err)
	}
}

func TestUserRestoredReanimatesAndRevertDeletesAgain(t *testing.T) {
	c := needSamba(t).open(t)
	ctx := context.Background()
	u := newUser(t, c, nil)
	guid := deleteUser(t, c, u)

	typ, call := newCall(t, "ad_user_restored", c, map[string]any{"object_guid": guid})
	obs, ch := plan(t, typ, call)
	if obs.Object != "ad:"+guid || obs.Value.GetAttr("deleted").False() {
		t.Fatalf("observed %s %#v", obs.Object, obs.Value)
	}
	if ch.Action != steps.Create || !strings.EqualFold(str(ch.After, "dn"), u.dn) {
		t.Fatalf("Diff = %s -> %s, want create at %s", ch.Action, str(ch.After, "dn"), u.dn)
	}
	res, err := typ.Apply(ctx, call, ch)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if str(res.Value, "object_guid") != guid {
		t.Errorf("result %#v", res.Value)
	}
	// The same object is back: same GUID, at its old place.
	live := observe(t, "ad_user", c, map[string]any{"object_guid": guid})
	if !strings.EqualFold(str(live, "dn"), u.dn) || str(live, "sam_account_name") != u.sam {
		t.Errorf("restored user = %#v", live)
	}
	_, again := plan(t, typ, call)
	if again.Action != steps.NoOp {
		t.Errorf("second Diff = %s, want no-op", again.Action)
	}
	noop, err := typ.Apply(ctx, call, again)
	if err != nil || !noop.Value.Type().Equals(res.Value.Type()) || str(noop.Value, "object_guid") != guid {
		t.Errorf("no-op Apply result %#v (%v), want the same shape as %#v", noop.Value, err, res.Value)
	}
	if _, err := typ.Apply(ctx, call, ch); err != nil {
		t.Errorf("Apply repeated after success: %v", err)
	}

	if err := typ.(steps.Reverter).Revert(ctx, call, ch); err != nil {
		t.Fatalf("Revert: %v", err)
	}
	if d := observe(t, "ad_deleted_user", c, map[string]any{"object_guid": guid}); str(d, "object_guid") != guid {
		t.Errorf("after Revert the user is not deleted: %#v", d)
	}
	if err := typ.(steps.Reverter).Revert(ctx, call, ch); err != nil {
		t.Errorf("Revert repeated: %v", err)
	}
}

func TestUserRestoredIntoAnotherOU(t *testing.T) {
	c := needSamba(t).open(t)
	ou := "OU=Restored " + strings.ReplaceAll(t.Name(), "/", "-") + "," + sambaBaseDN
	add := ldap.NewAddRequest(ou, nil)
	add.Attribute("objectClass", []string{"top", "organizationalUnit"})
	if err := c.Add(add); err != nil {
		t.Fatal(err)
	}
	u := newUser(t, c, nil)
	guid := deleteUser(t, c, u)
	typ, call := newCall(t, "ad_user_restored", c, map[string]any{"sam_account_name": u.sam, "ou": ou})
	_, ch := plan(t, typ, call)
	want := "CN=" + u.cn + "," + ou
	if !strings.EqualFold(str(ch.After, "dn"), want) {
		t.Fatalf("restore to %s, want %s", str(ch.After, "dn"), want)
	}
	if _, err := typ.Apply(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteByGUIDOrDN(c, want); deleteByGUIDOrDN(c, ou) })
	if got := str(observe(t, "ad_user", c, map[string]any{"object_guid": guid}), "dn"); !strings.EqualFold(got, want) {
		t.Errorf("restored at %s, want %s", got, want)
	}
}

func TestUserRestoredOntoAnExistingNameIsEntryAlreadyExists(t *testing.T) {
	c := needSamba(t).open(t)
	u := newUser(t, c, nil)
	guid := deleteUser(t, c, u)
	// A new account now holds the old name (the restore mistake).
	add := ldap.NewAddRequest(u.dn, nil)
	add.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	add.Attribute("sAMAccountName", []string{u.sam + "n"})
	if err := c.Add(add); err != nil {
		t.Fatal(err)
	}
	typ, call := newCall(t, "ad_user_restored", c, map[string]any{"object_guid": guid})
	_, ch := plan(t, typ, call)
	_, err := typ.Apply(context.Background(), call, ch)
	var e *Error
	if !errors.As(err, &e) || e.Code != ldap.LDAPResultEntryAlreadyExists {
		t.Fatalf("restore onto a taken name: %v, want LDAP 68", err)
	}
	if !strings.Contains(err.Error(), "already exists") {
		t.Errorf("message %q should say the name is taken", err)
	}
}

func TestUserRestoredIsNotNamedByUPN(t *testing.T) {
	typ := steptest.Step(t, "ad_user_restored")
	if _, ok := typ.Info().Schema["upn"]; ok {
		t.Error("ad_user_restored accepts upn: a tombstone has none, and a new user may hold it")
	}
}
