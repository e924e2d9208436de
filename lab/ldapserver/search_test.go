package ldapserver_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/lab"
)

// threeUsers is a tenant with ann and bob in OU=Staff and cid in
// OU=Sub,OU=Staff.
func threeUsers(t *testing.T) (*lab.Tenant, map[string]lab.ADUser) {
	tn := lab.New(lab.Config{})
	us := map[string]lab.ADUser{
		"ann": addUser(t, tn, "ann", func(u *lab.ADUser) {
			u.Mail = "ann@corp.example.com"
			u.ProxyAddresses = []string{"SMTP:ann@corp.example.com", "smtp:ann@contoso.onmicrosoft.com"}
		}),
		"bob": addUser(t, tn, "bob", nil),
	}
	cid, err := tn.AddADUser(lab.ADUser{DN: "CN=cid,OU=Sub,OU=Staff," + domain, SAMAccountName: "cid", UserPrincipalName: "cid@corp.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	us["cid"] = cid
	return tn, us
}

func TestSearchScopesAndFilters(t *testing.T) {
	tn, us := threeUsers(t)
	_, addr := start(t, tn)
	c := admin(t, addr)
	ann, cid := staff("ann"), "CN=cid,OU=Sub,OU=Staff,"+domain

	for _, tc := range []struct {
		base   string
		scope  int
		filter string
		want   []string
	}{
		{domain, ldap.ScopeWholeSubtree, "(objectClass=user)", []string{ann, staff("bob"), cid}},
		{domain, ldap.ScopeWholeSubtree, "(&(objectCategory=person)(objectClass=user))", []string{ann, staff("bob"), cid}},
		{"OU=Staff," + domain, ldap.ScopeSingleLevel, "(objectClass=*)", []string{ann, staff("bob")}},
		{ann, ldap.ScopeBaseObject, "(objectClass=*)", []string{ann}},
		{domain, ldap.ScopeWholeSubtree, "(userPrincipalName=ANN@corp.example.com)", []string{ann}},
		{domain, ldap.ScopeWholeSubtree, "(mail=*)", []string{ann}},
		{domain, ldap.ScopeWholeSubtree, "(&(objectClass=user)(!(mail=*)))", []string{staff("bob"), cid}},
		{domain, ldap.ScopeWholeSubtree, "(objectClass=domainDNS)", []string{domain}},
		{domain, ldap.ScopeWholeSubtree, "(|(sAMAccountName=bob)(sAMAccountName=cid))", []string{staff("bob"), cid}},
		{domain, ldap.ScopeWholeSubtree, "(proxyAddresses=smtp:ann@contoso.onmicrosoft.com)", []string{ann}},
		{domain, ldap.ScopeWholeSubtree, "(userPrincipalName=*@corp.example.*)", []string{ann, staff("bob"), cid}},
		{domain, ldap.ScopeWholeSubtree, "(sAMAccountName=b*)", []string{staff("bob")}},
		{domain, ldap.ScopeWholeSubtree, "(objectGUID=" + us["cid"].ObjectGUID.EscapeFilter() + ")", []string{cid}},
		{domain, ldap.ScopeWholeSubtree, fmt.Sprintf("(uSNChanged>=%d)", us["bob"].USNChanged), []string{staff("bob"), cid}},
		{"<GUID=" + us["bob"].ObjectGUID.String() + ">", ldap.ScopeBaseObject, "(objectClass=*)", []string{staff("bob")}},
		{domain, ldap.ScopeBaseObject, "(objectClass=*)", []string{domain}},
	} {
		res, err := c.Search(ldap.NewSearchRequest(tc.base, tc.scope, ldap.NeverDerefAliases, 0, 0, false, tc.filter, []string{"cn"}, nil))
		if err != nil {
			t.Errorf("%s scope %d %s: %v", tc.base, tc.scope, tc.filter, err)
			continue
		}
		if got := dns(res.Entries); !slices.Equal(got, tc.want) {
			t.Errorf("%s scope %d %s:\n got %q\nwant %q", tc.base, tc.scope, tc.filter, got, tc.want)
		}
	}

	for _, base := range []string{"CN=nobody,OU=Staff," + domain, "DC=other,DC=com", "<GUID=00000000-0000-0000-0000-000000000001>"} {
		_, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
		wantCode(t, err, ldap.LDAPResultNoSuchObject, "search of "+base)
	}
}

func TestAttributeSelection(t *testing.T) {
	tn, _ := threeUsers(t)
	_, addr := start(t, tn)
	c := admin(t, addr)

	e := search(t, c, "(sAMAccountName=ann)", []string{"userprincipalname", "OBJECTGUID", "proxyAddresses"})[0]
	var names []string
	for _, a := range e.Attributes {
		names = append(names, a.Name)
	}
	// AD answers in the schema's spelling whatever the request's.
	if want := []string{"objectGUID", "proxyAddresses", "userPrincipalName"}; !slices.Equal(names, want) {
		t.Errorf("attributes %v, want %v", names, want)
	}
	if got := e.GetAttributeValues("proxyAddresses"); len(got) != 2 {
		t.Errorf("proxyAddresses %v, want both values", got)
	}
	if e := search(t, c, "(sAMAccountName=ann)", []string{"1.1"})[0]; len(e.Attributes) != 0 {
		t.Errorf("1.1 returned %d attributes", len(e.Attributes))
	}
	all := search(t, c, "(sAMAccountName=ann)", []string{"*"})[0]
	for _, n := range []string{"objectClass", "objectGUID", "sAMAccountName", "mail", "whenChanged", "objectCategory"} {
		if all.GetAttributeValue(n) == "" {
			t.Errorf("* lacks %s", n)
		}
	}
}

// TestBinaryGUIDs writes msExchArchiveGUID as AD's 16 bytes and reads back
// the base64 Microsoft documents for that GUID, and reads objectGUID raw.
func TestBinaryGUIDs(t *testing.T) {
	tn, us := threeUsers(t)
	_, addr := start(t, tn)
	c := admin(t, addr)

	g, err := anchor.ParseGUID("35918bc9-196d-40ea-9779-889d79b753f0")
	if err != nil {
		t.Fatal(err)
	}
	mod := ldap.NewModifyRequest(staff("bob"), nil)
	mod.Replace("msExchArchiveGUID", []string{string(g.Bytes())})
	if err := c.Modify(mod); err != nil {
		t.Fatalf("write msExchArchiveGUID: %v", err)
	}
	e := search(t, c, "(msExchArchiveGUID="+g.EscapeFilter()+")", []string{"msExchArchiveGUID", "objectGUID"})
	if len(e) != 1 || e[0].DN != staff("bob") {
		t.Fatalf("search by msExchArchiveGUID: %v", dns(e))
	}
	if got := base64.StdEncoding.EncodeToString(e[0].GetRawAttributeValue("msExchArchiveGUID")); got != "yYuRNW0Z6kCXeYidebdT8A==" {
		t.Errorf("msExchArchiveGUID read back as %s, want yYuRNW0Z6kCXeYidebdT8A==", got)
	}
	if got := e[0].GetRawAttributeValue("objectGUID"); !bytes.Equal(got, us["bob"].ObjectGUID.Bytes()) {
		t.Errorf("objectGUID % x, want AD's layout % x", got, us["bob"].ObjectGUID.Bytes())
	}
	if u, _ := tn.ADUser(staff("bob")); u.ArchiveGUID != g {
		t.Errorf("the model holds ArchiveGUID %s, want %s", u.ArchiveGUID, g)
	}
	// AD's other spelling of a GUID base: the hex of the bytes.
	res, err := c.Search(ldap.NewSearchRequest(fmt.Sprintf("<GUID=%x>", us["bob"].ObjectGUID.Bytes()), ldap.ScopeBaseObject,
		ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].DN != staff("bob") {
		t.Errorf("<GUID=hex> base: %v %v", err, res)
	}
}

// TestPaging lists 2,500 users in pages of 1,000 (the most AD returns),
// checks every user comes exactly once, and that an unpaged search stops
// at 1,000 with sizeLimitExceeded as AD's MaxPageSize makes it.
func TestPaging(t *testing.T) {
	const n = 2500
	c := adminOverUsers(t, n)
	req := ldap.NewSearchRequest(domain, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=user)(sAMAccountName=user*))", []string{"sAMAccountName", "objectGUID"}, nil)

	res, err := c.SearchWithPaging(req, 1000)
	if err != nil {
		t.Fatalf("paged search: %v", err)
	}
	seen := map[string]int{}
	for _, e := range res.Entries {
		seen[e.GetAttributeValue("sAMAccountName")]++
	}
	if len(res.Entries) != n || len(seen) != n {
		t.Fatalf("paged search returned %d entries, %d distinct users; want %d once each", len(res.Entries), len(seen), n)
	}

	// Page by page: 1000, 1000, 500, then no cookie.
	paging := ldap.NewControlPaging(1000)
	var sizes []int
	for {
		req.Controls = []ldap.Control{paging}
		r, err := c.Search(req)
		if err != nil {
			t.Fatalf("page %d: %v", len(sizes)+1, err)
		}
		sizes = append(sizes, len(r.Entries))
		pc, ok := ldap.FindControl(r.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok {
			t.Fatal("a page came without the paging control")
		}
		if len(pc.Cookie) == 0 {
			break
		}
		paging.SetCookie(pc.Cookie)
	}
	if !slices.Equal(sizes, []int{1000, 1000, 500}) {
		t.Errorf("page sizes %v, want [1000 1000 500]", sizes)
	}
	// A used-up cookie is refused.
	req.Controls = []ldap.Control{paging}
	_, err = c.Search(req)
	wantCode(t, err, ldap.LDAPResultUnwillingToPerform, "search with a spent cookie")

	req.Controls = nil
	r, err := c.Search(req)
	wantCode(t, err, ldap.LDAPResultSizeLimitExceeded, "unpaged search of 2,500 users")
	if r == nil || len(r.Entries) != 1000 {
		t.Errorf("unpaged search returned %v entries, want 1000", r)
	}
}

// TestConcurrentPagedSearches runs paged searches at once on one
// connection, as steps/ad's client does under for_each with
// max_concurrency: each must get its own pages.
func TestConcurrentPagedSearches(t *testing.T) {
	const n = 1200
	c := adminOverUsers(t, n)
	filters := []string{"(objectClass=user)", "(sAMAccountName=user0*)", "(sAMAccountName=user1*)", "(objectClass=user)"}
	want := []int{n, 1000, 200, n}
	errs := make(chan error, len(filters))
	for i, f := range filters {
		go func() {
			req := ldap.NewSearchRequest(domain, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, f, []string{"sAMAccountName"}, nil)
			res, err := c.SearchWithPaging(req, 150)
			if err != nil {
				errs <- fmt.Errorf("%s: %w", f, err)
				return
			}
			seen := map[string]bool{}
			for _, e := range res.Entries {
				seen[e.GetAttributeValue("sAMAccountName")] = true
			}
			if len(res.Entries) != want[i] || len(seen) != want[i] {
				errs <- fmt.Errorf("%s: %d entries, %d distinct, want %d", f, len(res.Entries), len(seen), want[i])
				return
			}
			errs <- nil
		}()
	}
	for range filters {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// adminOverUsers serves a tenant of n AD users, user0000 and on, and
// returns the administrator's connection to it.
func adminOverUsers(t *testing.T, n int) *ldap.Conn {
	t.Helper()
	tn := lab.New(lab.Config{})
	for i := range n {
		addUser(t, tn, fmt.Sprintf("user%04d", i), nil)
	}
	_, addr := start(t, tn)
	return admin(t, addr)
}
