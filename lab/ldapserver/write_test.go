package ldapserver_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/lab"
)

// showDeleted is the Show Deleted control, as steps/ad sends it.
var showDeleted = ldap.NewControlMicrosoftShowDeleted()

// deletedDN is where AD keeps a deleted user.
func deletedDN(u lab.ADUser) string {
	return "CN=" + u.CN + `\0ADEL:` + u.ObjectGUID.String() + ",CN=Deleted Objects," + domain
}

func TestShowDeleted(t *testing.T) {
	tn, us := threeUsers(t)
	_, addr := start(t, tn)
	c := admin(t, addr)
	if err := c.Del(ldap.NewDelRequest(staff("ann"), nil)); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantCode(t, c.Del(ldap.NewDelRequest(staff("ann"), nil)), ldap.LDAPResultNoSuchObject, "delete twice")

	byGUID := "(objectGUID=" + us["ann"].ObjectGUID.EscapeFilter() + ")"
	if es := search(t, c, byGUID, nil); len(es) != 0 {
		t.Fatalf("without Show Deleted the deleted user is found: %v", dns(es))
	}
	_, err := c.Search(ldap.NewSearchRequest("CN=Deleted Objects,"+domain, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", nil, nil))
	wantCode(t, err, ldap.LDAPResultNoSuchObject, "CN=Deleted Objects without Show Deleted")

	es := search(t, c, "(&(isDeleted=TRUE)(objectClass=user)"+byGUID+")",
		[]string{"isDeleted", "lastKnownParent", "name", "userPrincipalName", "sAMAccountName"}, showDeleted)
	if len(es) != 1 {
		t.Fatalf("with Show Deleted: %v", dns(es))
	}
	e := es[0]
	if want := deletedDN(us["ann"]); e.DN != want {
		t.Errorf("deleted DN %q, want %q", e.DN, want)
	}
	if e.GetAttributeValue("isDeleted") != "TRUE" || e.GetAttributeValue("lastKnownParent") != "OU=Staff,"+domain {
		t.Errorf("isDeleted %q lastKnownParent %q", e.GetAttributeValue("isDeleted"), e.GetAttributeValue("lastKnownParent"))
	}
	if want := "ann\nDEL:" + us["ann"].ObjectGUID.String(); e.GetAttributeValue("name") != want {
		t.Errorf("name %q, want %q", e.GetAttributeValue("name"), want)
	}
	// Without the AD Recycle Bin the object is a tombstone.
	if e.GetAttributeValue("userPrincipalName") != "" || e.GetAttributeValue("sAMAccountName") != "ann" {
		t.Errorf("tombstone kept UPN %q, sAMAccountName %q", e.GetAttributeValue("userPrincipalName"), e.GetAttributeValue("sAMAccountName"))
	}
	if got := dns(search(t, c, "(isDeleted=TRUE)", []string{"1.1"}, showDeleted)); !slices.Equal(got, []string{"CN=Deleted Objects," + domain, deletedDN(us["ann"])}) {
		t.Errorf("deleted objects in the domain: %q", got)
	}
	res, err := c.Search(ldap.NewSearchRequest("CN=Deleted Objects,"+domain, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", []string{"1.1"}, []ldap.Control{showDeleted}))
	if err != nil || !slices.Equal(dns(res.Entries), []string{deletedDN(us["ann"])}) {
		t.Errorf("one-level under CN=Deleted Objects with Show Deleted: %v %v", err, res)
	}
}

// reanimate sends AD's restore: one Modify deleting isDeleted and replacing
// distinguishedName.
func reanimate(c *ldap.Conn, from, to string, ctrls []ldap.Control, extra func(*ldap.ModifyRequest)) error {
	req := ldap.NewModifyRequest(from, ctrls)
	req.Delete("isDeleted", nil)
	req.Replace("distinguishedName", []string{to})
	if extra != nil {
		extra(req)
	}
	return c.Modify(req)
}

func TestReanimateTombstone(t *testing.T) {
	tn, us := threeUsers(t)
	_, addr := start(t, tn)
	c := admin(t, addr)
	ann := us["ann"]
	if err := c.Del(ldap.NewDelRequest(staff("ann"), nil)); err != nil {
		t.Fatal(err)
	}
	to := "CN=ann,OU=Restored," + domain

	wantCode(t, reanimate(c, deletedDN(ann), to, nil, nil), ldap.LDAPResultNoSuchObject, "reanimate without Show Deleted")
	req := ldap.NewModifyRequest(deletedDN(ann), []ldap.Control{showDeleted})
	req.Delete("isDeleted", nil)
	wantCode(t, c.Modify(req), ldap.LDAPResultUnwillingToPerform, "delete isDeleted without a new DN")

	err := reanimate(c, deletedDN(ann), to, []ldap.Control{showDeleted}, func(r *ldap.ModifyRequest) {
		r.Replace("userPrincipalName", []string{"ann@corp.example.com"})
	})
	if err != nil {
		t.Fatalf("reanimate: %v", err)
	}
	es := search(t, c, "(objectGUID="+ann.ObjectGUID.EscapeFilter()+")", []string{"userPrincipalName", "mail", "isDeleted"})
	if len(es) != 1 || es[0].DN != to {
		t.Fatalf("after reanimation: %v", dns(es))
	}
	// The tombstone lost mail; the same request gave the UPN back.
	if es[0].GetAttributeValue("mail") != "" || es[0].GetAttributeValue("isDeleted") != "" ||
		es[0].GetAttributeValue("userPrincipalName") != "ann@corp.example.com" {
		t.Errorf("restored attributes: %v", es[0].Attributes)
	}
	wantCode(t, reanimate(c, to, staff("ann"), []ldap.Control{showDeleted}, nil), ldap.LDAPResultUnwillingToPerform, "reanimate a live user")
}

func TestReanimateConflicts(t *testing.T) {
	tn := lab.New(lab.Config{ADRecycleBin: true})
	ann := addUser(t, tn, "ann", nil)
	_, addr := start(t, tn)
	c := admin(t, addr)
	if err := c.Del(ldap.NewDelRequest(staff("ann"), nil)); err != nil {
		t.Fatal(err)
	}
	// The restore mistake: a new account takes the old name and UPN.
	add := ldap.NewAddRequest(staff("ann"), nil)
	add.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	add.Attribute("sAMAccountName", []string{"ann2"})
	add.Attribute("userPrincipalName", []string{"ann@corp.example.com"})
	if err := c.Add(add); err != nil {
		t.Fatalf("add the new account: %v", err)
	}
	sd := []ldap.Control{showDeleted}
	wantCode(t, reanimate(c, deletedDN(ann), staff("ann"), sd, nil), ldap.LDAPResultEntryAlreadyExists, "restore onto a taken DN")
	err := reanimate(c, deletedDN(ann), "CN=ann,OU=Restored,"+domain, sd, nil)
	wantCode(t, err, ldap.LDAPResultConstraintViolation, "restore with a UPN a live user holds")
	if !strings.Contains(err.Error(), "000021C8") {
		t.Errorf("duplicate UPN: %v, want AD's 000021C8", err)
	}
	if u, _ := tn.ADUser(ann.ObjectGUID.String()); !u.IsDeleted {
		t.Error("a refused restore changed the object")
	}
}

func TestAdd(t *testing.T) {
	tn, _ := threeUsers(t)
	_, addr := start(t, tn)
	c := admin(t, addr)
	user := func(dn, sam, upn string, more ...[2]string) *ldap.AddRequest {
		r := ldap.NewAddRequest(dn, nil)
		r.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
		r.Attribute("sAMAccountName", []string{sam})
		if upn != "" {
			r.Attribute("userPrincipalName", []string{upn})
		}
		for _, m := range more {
			r.Attribute(m[0], []string{m[1]})
		}
		return r
	}
	if err := c.Add(user(staff("dan"), "dan", "dan@corp.example.com", [2]string{"mail", "dan@corp.example.com"}, [2]string{"cn", "dan"})); err != nil {
		t.Fatalf("add: %v", err)
	}
	u, err := tn.ADUser(staff("dan"))
	if err != nil || u.Mail != "dan@corp.example.com" || u.ObjectGUID.IsZero() {
		t.Fatalf("added user in the model: %+v %v", u, err)
	}
	for _, tc := range []struct {
		what string
		req  *ldap.AddRequest
		want int
	}{
		{"taken DN", user(staff("dan"), "dan9", ""), ldap.LDAPResultEntryAlreadyExists},
		{"taken sAMAccountName", user(staff("dan2"), "DAN", ""), ldap.LDAPResultEntryAlreadyExists},
		{"taken userPrincipalName", user(staff("dan3"), "dan3", "Dan@corp.example.com"), ldap.LDAPResultConstraintViolation},
		{"attribute outside the lab's schema", user(staff("dan4"), "dan4", "", [2]string{"carLicense", "X"}), ldap.LDAPResultUndefinedAttributeType},
		{"GUID of the wrong length", user(staff("dan5"), "dan5", "", [2]string{"msExchMailboxGuid", "short"}), ldap.LDAPResultInvalidAttributeSyntax},
		{"under CN=Deleted Objects", user("CN=x,CN=Deleted Objects,"+domain, "x", ""), ldap.LDAPResultUnwillingToPerform},
		{"outside the domain", user("CN=x,DC=other,DC=com", "x", ""), ldap.LDAPResultNoSuchObject},
	} {
		wantCode(t, c.Add(tc.req), tc.want, "add with "+tc.what)
	}
	ou := ldap.NewAddRequest("OU=New,"+domain, nil)
	ou.Attribute("objectClass", []string{"top", "organizationalUnit"})
	wantCode(t, c.Add(ou), ldap.LDAPResultUnwillingToPerform, "add an OU")
	if _, err := tn.ADUser(staff("dan5")); err == nil {
		t.Error("a refused add stored a user")
	}
}

func TestModify(t *testing.T) {
	tn, us := threeUsers(t)
	_, addr := start(t, tn)
	c := admin(t, addr)
	mod := func(dn string, f func(*ldap.ModifyRequest)) error {
		r := ldap.NewModifyRequest(dn, nil)
		f(r)
		return c.Modify(r)
	}
	// Several values in one change: gldap's value decoding is worked
	// around, so both arrive.
	err := mod(staff("bob"), func(r *ldap.ModifyRequest) {
		r.Add("proxyAddresses", []string{"SMTP:bob@corp.example.com", "smtp:bob@contoso.onmicrosoft.com"})
		r.Replace("mailNickname", []string{"bob"})
		r.Replace("msExchRecipientTypeDetails", []string{"2147483648"})
	})
	if err != nil {
		t.Fatalf("modify: %v", err)
	}
	u, _ := tn.ADUser(staff("bob"))
	if !slices.Equal(u.ProxyAddresses, []string{"SMTP:bob@corp.example.com", "smtp:bob@contoso.onmicrosoft.com"}) ||
		u.MailNickname != "bob" || u.RecipientTypeDetails != lab.RecipientRemoteUserMailbox {
		t.Fatalf("model after modify: %+v", u)
	}
	if err := mod(staff("bob"), func(r *ldap.ModifyRequest) {
		r.Delete("proxyAddresses", []string{"smtp:BOB@contoso.onmicrosoft.com"})
		r.Delete("mailNickname", nil)
	}); err != nil {
		t.Fatalf("delete values: %v", err)
	}
	if u, _ := tn.ADUser(staff("bob")); len(u.ProxyAddresses) != 1 || u.MailNickname != "" {
		t.Fatalf("model after delete: %+v", u)
	}

	for _, tc := range []struct {
		what string
		dn   string
		f    func(*ldap.ModifyRequest)
		want int
	}{
		{"missing object", staff("nobody"), func(r *ldap.ModifyRequest) { r.Replace("mail", []string{"x@y"}) }, ldap.LDAPResultNoSuchObject},
		{"objectGUID", staff("bob"), func(r *ldap.ModifyRequest) { r.Replace("objectGUID", []string{string(make([]byte, 16))}) }, ldap.LDAPResultUnwillingToPerform},
		{"a duplicate UPN", staff("bob"), func(r *ldap.ModifyRequest) { r.Replace("userPrincipalName", []string{"ann@corp.example.com"}) }, ldap.LDAPResultConstraintViolation},
		{"an absent value", staff("bob"), func(r *ldap.ModifyRequest) { r.Delete("proxyAddresses", []string{"smtp:none@x"}) }, ldap.LDAPResultNoSuchAttribute},
		{"an absent attribute", staff("bob"), func(r *ldap.ModifyRequest) { r.Delete("targetAddress", nil) }, ldap.LDAPResultNoSuchAttribute},
		{"an existing proxy address", staff("bob"), func(r *ldap.ModifyRequest) { r.Add("proxyAddresses", []string{"SMTP:BOB@corp.example.com"}) }, ldap.LDAPResultAttributeOrValueExists},
		{"a second value of a single-valued attribute", staff("ann"), func(r *ldap.ModifyRequest) { r.Add("mail", []string{"other@corp.example.com"}) }, ldap.LDAPResultConstraintViolation},
		{"two values for a single-valued attribute", staff("bob"), func(r *ldap.ModifyRequest) { r.Replace("mail", []string{"a@x", "b@x"}) }, ldap.LDAPResultConstraintViolation},
		{"an unknown attribute", staff("bob"), func(r *ldap.ModifyRequest) { r.Replace("carLicense", []string{"X"}) }, ldap.LDAPResultUndefinedAttributeType},
		{"a new DN of a live user", staff("bob"), func(r *ldap.ModifyRequest) { r.Replace("distinguishedName", []string{staff("rob")}) }, ldap.LDAPResultUnwillingToPerform},
	} {
		wantCode(t, mod(tc.dn, tc.f), tc.want, "modify "+tc.what)
	}
	// A refused request changes nothing, even its valid changes.
	err = mod(staff("bob"), func(r *ldap.ModifyRequest) {
		r.Replace("mail", []string{"bob@corp.example.com"})
		r.Replace("userPrincipalName", []string{"ann@corp.example.com"})
	})
	wantCode(t, err, ldap.LDAPResultConstraintViolation, "modify with one bad change")
	if u, _ := tn.ADUser(staff("bob")); u.Mail != "" {
		t.Errorf("a refused modify set mail to %q", u.Mail)
	}
	// Replace with no values clears, present or not: steps/ad's revert
	// relies on it being safe to repeat.
	for range 2 {
		if err := mod(staff("ann"), func(r *ldap.ModifyRequest) {
			r.Replace("mail", nil)
			r.Replace("msExchArchiveGUID", nil)
		}); err != nil {
			t.Fatalf("replace with no values: %v", err)
		}
	}
	if u, _ := tn.ADUser(staff("ann")); u.Mail != "" {
		t.Errorf("replace with no values left mail %q", u.Mail)
	}
	// A DN with spaces after its commas names the same object, as on AD.
	if err := mod("CN=bob, OU=Staff, "+domain, func(r *ldap.ModifyRequest) { r.Replace("displayName", []string{"Bob"}) }); err != nil {
		t.Errorf("modify by a DN with spaces: %v", err)
	}
	// A modify by <GUID=...>, as AD accepts.
	if err := mod("<GUID="+us["cid"].ObjectGUID.String()+">", func(r *ldap.ModifyRequest) {
		r.Replace("targetAddress", []string{"SMTP:cid@contoso.mail.onmicrosoft.com"})
	}); err != nil {
		t.Errorf("modify by GUID: %v", err)
	}
}

func TestUnsupportedOperations(t *testing.T) {
	tn, _ := threeUsers(t)
	_, addr := start(t, tn)
	c := admin(t, addr)
	// gldap cannot decode ModifyDN, Compare or Abandon and ends the
	// connection; the server itself goes on.
	if err := dial(t, addr).ModifyDN(ldap.NewModifyDNRequest(staff("bob"), "CN=rob", true, "")); err == nil {
		t.Error("ModifyDN succeeded")
	}
	if u, err := tn.ADUser(staff("bob")); err != nil || u.CN != "bob" {
		t.Errorf("after ModifyDN: %+v %v", u, err)
	}
	// A critical control the lab does not know is refused, as RFC 4511 says.
	_, err := c.Search(ldap.NewSearchRequest(domain, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", nil, []ldap.Control{ldap.NewControlString("1.2.840.113556.1.4.473", true, "")}))
	wantCode(t, err, ldap.LDAPResultUnavailableCriticalExtension, "search with a critical unknown control")
}
