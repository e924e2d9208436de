package ldapserver_test

import (
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/lab"
)

// TestEffectiveRights: the constructed allowedAttributesEffective and
// allowedChildClassesEffective
// (https://learn.microsoft.com/windows/win32/adschema/a-allowedattributeseffective,
// https://learn.microsoft.com/windows/win32/adschema/a-allowedchildclasseseffective)
// say what the lab's Administrator may write on a user and create under
// the domain head, as rebind doctor reads them; being constructed, they
// come only when named ("Constructed attributes cannot be returned in a
// query unless specified", https://learn.microsoft.com/previous-versions/ms815727(v=msdn.10)).
func TestEffectiveRights(t *testing.T) {
	tn, _ := threeUsers(t)
	_, addr := start(t, tn)
	c := admin(t, addr)
	read := func(dn string, attrs ...string) *ldap.Entry {
		t.Helper()
		res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", attrs, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("read %s %v: %v", dn, attrs, err)
		}
		return res.Entries[0]
	}
	got := read(staff("ann"), "allowedAttributesEffective").GetAttributeValues("allowedAttributesEffective")
	for _, want := range []string{"proxyAddresses", "msExchMailboxGuid", "msExchArchiveGUID", "mS-DS-ConsistencyGuid", "targetAddress", "userPrincipalName"} {
		if !slices.Contains(got, want) {
			t.Errorf("allowedAttributesEffective lacks %s: %v", want, got)
		}
	}
	for _, never := range []string{"objectGUID", "objectSid", "distinguishedName", "isDeleted"} {
		if slices.Contains(got, never) {
			t.Errorf("allowedAttributesEffective holds the system's %s: %v", never, got)
		}
	}
	if !slices.Equal(got, lab.ModifiableAttributeNames()) {
		t.Errorf("allowedAttributesEffective %v, want the lab's modifiable attributes %v", got, lab.ModifiableAttributeNames())
	}
	// Each attribute it lists is one a modify accepts.
	ann := read(staff("ann"), "*")
	for _, a := range got {
		vals := ann.GetRawAttributeValues(a)
		m := ldap.NewModifyRequest(staff("ann"), nil)
		if len(vals) == 0 {
			continue
		}
		var sv []string
		for _, v := range vals {
			sv = append(sv, string(v))
		}
		m.Replace(a, sv)
		if err := c.Modify(m); err != nil {
			t.Errorf("listed as writable, but a replace of %s with its own value fails: %v", a, err)
		}
	}
	if vals := read(staff("ann"), "*").GetAttributeValues("allowedAttributesEffective"); len(vals) != 0 {
		t.Errorf("a constructed attribute came with *: %v", vals)
	}
	if vals := read(domain, "allowedChildClassesEffective").GetAttributeValues("allowedChildClassesEffective"); !slices.Equal(vals, []string{"user"}) {
		t.Errorf("allowedChildClassesEffective on the domain head: %v, want [user]", vals)
	}
}
