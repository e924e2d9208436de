package ldapserver_test

import (
	"fmt"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/lab"
)

// BenchmarkPagedListing100k lists 100,000 users in pages of 1,000 with
// the attributes steps/ad reads, as `rebind` does against a large domain.
func BenchmarkPagedListing100k(b *testing.B) {
	tn := lab.New(lab.Config{})
	const n = 100_000
	for i := range n {
		addUser(b, tn, fmt.Sprintf("user%06d", i), func(u *lab.ADUser) {
			u.Mail = u.UserPrincipalName
			u.ProxyAddresses = []string{"SMTP:" + u.UserPrincipalName}
		})
	}
	_, addr := start(b, tn)
	c := admin(b, addr)
	b.ResetTimer()
	for range b.N {
		// A fresh request each time: go-ldap leaves the last cookie in
		// the request's paging control, which AD (and the lab) refuse.
		req := ldap.NewSearchRequest(domain, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=user)", []string{"objectGUID", "userPrincipalName", "mail", "proxyAddresses", "mS-DS-ConsistencyGuid"}, nil)
		res, err := c.SearchWithPaging(req, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Entries) != n {
			b.Fatalf("%d entries, want %d", len(res.Entries), n)
		}
	}
}
