package ad

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// ldapsearchValue prints attr of dn as ldapsearch (OpenLDAP) shows it: an
// independent reader of the bytes the DC holds.
func ldapsearchValue(t *testing.T, d *sambaDC, dn, attr string) string {
	t.Helper()
	tool, err := exec.LookPath("ldapsearch")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ldapsearch is missing in CI: install ldap-utils")
		}
		t.Skip("skipped: ldapsearch not installed (Debian package ldap-utils)")
	}
	cmd := exec.Command(tool, "-LLL", "-o", "ldif-wrap=no", "-H", d.url(), "-x", "-D", sambaAdminDN, "-w", sambaPassword,
		"-b", dn, "-s", "base", "(objectClass=*)", attr)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+d.caFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(strings.ToLower(line), strings.ToLower(attr)+":") {
			return line
		}
	}
	return ""
}

func TestAttributeWritesGUIDInADByteOrder(t *testing.T) {
	d := needSamba(t)
	c := d.open(t)
	u := newUser(t, c, nil)
	typ, call := newCall(t, "ad_attribute", c, map[string]any{
		"upn": u.upn, "attribute": "msExchArchiveGUID", "guid": "35918bc9-196d-40ea-9779-889d79b753f0",
	})
	obs, ch := plan(t, typ, call)
	if !obs.Value.GetAttr("value").IsNull() {
		t.Fatalf("a new user has msExchArchiveGUID %#v", obs.Value.GetAttr("value"))
	}
	if ch.Action != steps.Update {
		t.Fatalf("Diff = %s, want update", ch.Action)
	}
	if got := ch.After.GetAttr("value").Index(cty.NumberIntVal(0)).AsString(); got != "35918bc9-196d-40ea-9779-889d79b753f0" {
		t.Errorf("plan shows after %q, want the GUID string", got)
	}
	if _, err := typ.Apply(context.Background(), call, ch); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got, want := ldapsearchValue(t, d, u.dn, "msExchArchiveGUID"), "msExchArchiveGUID:: yYuRNW0Z6kCXeYidebdT8A=="; got != want {
		t.Fatalf("ldapsearch shows %q, want %q", got, want)
	}
	// Applied again, it is already so.
	if _, again := plan(t, typ, call); again.Action != steps.NoOp {
		t.Errorf("second Diff = %s, want no-op", again.Action)
	}
	// The user's data shows the same GUID back.
	if got := str(observe(t, "ad_user", c, map[string]any{"upn": u.upn}), "archive_guid"); got != "35918bc9-196d-40ea-9779-889d79b753f0" {
		t.Errorf("ad_user archive_guid = %s", got)
	}
	if err := typ.(steps.Reverter).Revert(context.Background(), call, ch); err != nil {
		t.Fatalf("Revert: %v", err)
	}
	if got := ldapsearchValue(t, d, u.dn, "msExchArchiveGUID"); got != "" {
		t.Errorf("after Revert ldapsearch shows %q, want no value", got)
	}
	if err := typ.(steps.Reverter).Revert(context.Background(), call, ch); err != nil {
		t.Errorf("Revert repeated: %v", err)
	}
}

func TestAttributeSetsListsAndClearsThenReverts(t *testing.T) {
	c := needSamba(t).open(t)
	old := []string{"SMTP:bob@corp.example", "smtp:bob@old.example"}
	u := newUser(t, c, map[string][]string{"proxyAddresses": old, "mail": {"bob@corp.example"}})
	ctx := context.Background()

	// Same values in another order: nothing to do.
	typ, call := newCall(t, "ad_attribute", c, map[string]any{
		"dn": u.dn, "attribute": "proxyAddresses", "value": []string{old[1], old[0]},
	})
	if _, ch := plan(t, typ, call); ch.Action != steps.NoOp {
		t.Errorf("reordered proxyAddresses: Diff = %s, want no-op", ch.Action)
	}

	want := []string{"SMTP:bob@corp.example", "smtp:bob@contoso.mail.onmicrosoft.com", "smtp:robert@corp.example"}
	typ, call = newCall(t, "ad_attribute", c, map[string]any{"dn": u.dn, "attribute": "proxyAddresses", "value": want})
	_, ch := plan(t, typ, call)
	if ch.Action != steps.Update || ch.Before.GetAttr("value").LengthInt() != 2 || ch.After.GetAttr("value").LengthInt() != 3 {
		t.Fatalf("Diff = %s %#v -> %#v", ch.Action, ch.Before, ch.After)
	}
	if _, err := typ.Apply(ctx, call, ch); err != nil {
		t.Fatal(err)
	}
	if got := readRaw(t, c, u.dn, "proxyAddresses"); !sameValues(got, toBytes(want)) {
		t.Errorf("after Apply proxyAddresses = %q", got)
	}
	if err := typ.(steps.Reverter).Revert(ctx, call, ch); err != nil {
		t.Fatal(err)
	}
	if got := readRaw(t, c, u.dn, "proxyAddresses"); !sameValues(got, toBytes(old)) {
		t.Errorf("after Revert proxyAddresses = %q, want %q", got, old)
	}

	// value = null clears; Revert writes the old value back.
	typ, call = newCall(t, "ad_attribute", c, map[string]any{"sam_account_name": u.sam, "attribute": "mail", "value": cty.NullVal(cty.DynamicPseudoType)})
	_, ch = plan(t, typ, call)
	if ch.Action != steps.Update || !ch.After.GetAttr("value").IsNull() {
		t.Fatalf("clear mail: Diff = %s after %#v", ch.Action, ch.After)
	}
	if _, err := typ.Apply(ctx, call, ch); err != nil {
		t.Fatal(err)
	}
	if got := readRaw(t, c, u.dn, "mail"); len(got) != 0 {
		t.Errorf("mail not cleared: %q", got)
	}
	if _, err := typ.Apply(ctx, call, ch); err != nil {
		t.Errorf("clearing an absent attribute again must succeed: %v", err)
	}
	if err := typ.(steps.Reverter).Revert(ctx, call, ch); err != nil {
		t.Fatal(err)
	}
	if got := readRaw(t, c, u.dn, "mail"); len(got) != 1 || string(got[0]) != "bob@corp.example" {
		t.Errorf("after Revert mail = %q", got)
	}

	// A single string is a one-value list.
	typ, call = newCall(t, "ad_attribute", c, map[string]any{"upn": u.upn, "attribute": "mail", "value": "bob@corp.example"})
	if _, ch := plan(t, typ, call); ch.Action != steps.NoOp {
		t.Errorf("mail already so: Diff = %s", ch.Action)
	}
	// value and guid together are refused.
	typ, call = newCall(t, "ad_attribute", c, map[string]any{"upn": u.upn, "attribute": "mail", "value": "x", "guid": "35918bc9-196d-40ea-9779-889d79b753f0"})
	obs, err := typ.Observe(ctx, call)
	if err == nil {
		_, err = typ.Diff(ctx, call, obs)
	}
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("value and guid: %v", err)
	}
}

func toBytes(s []string) [][]byte {
	out := make([][]byte, len(s))
	for i, v := range s {
		out[i] = []byte(v)
	}
	return out
}

func TestAttributeDuplicateUPNIsAConstraintViolation(t *testing.T) {
	c := needSamba(t).open(t)
	a := newUser(t, c, nil)
	b := newUser(t, c, nil)
	typ, call := newCall(t, "ad_attribute", c, map[string]any{"upn": b.upn, "attribute": "userPrincipalName", "value": a.upn})
	_, ch := plan(t, typ, call)
	_, err := typ.Apply(context.Background(), call, ch)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("duplicate UPN: %v, want *ad.Error", err)
	}
	if e.Code != ldap.LDAPResultConstraintViolation || e.Attribute != "userPrincipalName" || !strings.EqualFold(e.Object, b.dn) {
		t.Errorf("error = %+v", e)
	}
	if !strings.Contains(err.Error(), "LDAP 19") || !strings.Contains(err.Error(), "already uses it") {
		t.Errorf("message %q should say why in plain words and keep the code", err)
	}
	if !steps.IsPermanent(err) {
		t.Error("a duplicate UPN cannot be fixed by retrying: the error should be permanent")
	}
}

func TestAttributeOnAGroupByDNAndOnAMissingObject(t *testing.T) {
	c := needSamba(t).open(t)
	dn := "CN=Rebind Test Group " + strings.ReplaceAll(t.Name(), "/", "-") + ",CN=Users," + sambaBaseDN
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "group"})
	add.Attribute("sAMAccountName", []string{"rebind-test-group"})
	if err := c.Add(add); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteByGUIDOrDN(c, dn) })
	typ, call := newCall(t, "ad_attribute", c, map[string]any{"dn": dn, "attribute": "description", "value": "re-linked"})
	_, ch := plan(t, typ, call)
	if _, err := typ.Apply(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if got := readRaw(t, c, dn, "description"); len(got) != 1 || string(got[0]) != "re-linked" {
		t.Errorf("group description = %q", got)
	}

	typ, call = newCall(t, "ad_attribute", c, map[string]any{"object_guid": "1effbc1e-4aa3-4f9d-a508-d4d81f1f5873", "attribute": "description", "value": "x"})
	if _, err := typ.Observe(context.Background(), call); !errors.Is(err, steps.ErrNotFound) {
		t.Errorf("missing object: %v, want ErrNotFound", err)
	}
}

func TestAttributeSystemOnlyWriteIsUnwillingToPerform(t *testing.T) {
	c := needSamba(t).open(t)
	u := newUser(t, c, nil)
	typ, call := newCall(t, "ad_attribute", c, map[string]any{"upn": u.upn, "attribute": "objectSid", "value": "S-1-5-21-1-2-3-500"})
	_, ch := plan(t, typ, call)
	_, err := typ.Apply(context.Background(), call, ch)
	var e *Error
	if !errors.As(err, &e) || e.Code != ldap.LDAPResultUnwillingToPerform || e.Attribute != "objectSid" {
		t.Fatalf("writing objectSid: %v, want LDAP 53 naming objectSid", err)
	}
	if !strings.Contains(err.Error(), "unwilling") || !steps.IsPermanent(err) {
		t.Errorf("message %q should say it in words, and the error be permanent", err)
	}
}
