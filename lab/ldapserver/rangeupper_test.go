package ldapserver_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/lab/ldapserver"
)

// Values longer than the attribute's rangeUpper in AD's schema get 19
// constraintViolation, as AD answers (displayName and mail 256,
// userPrincipalName 1024, proxyAddresses and targetAddress 1123; MS-ADA3,
// MS-ADA2 and the Exchange schema), instead of being stored whatever
// their size.
func TestHugeAttributeValuesAreRefused(t *testing.T) {
	tn, addr := abuseServer(t, ldapserver.Options{})
	c := admin(t, addr)
	cases := map[string]string{
		"displayName":       strings.Repeat("é", 257),
		"mail":              strings.Repeat("m", 251) + "@x.com",
		"userPrincipalName": strings.Repeat("u", 1020) + "@corp.example.com",
		"proxyAddresses":    "smtp:" + strings.Repeat("p", 1119) + "@x",
		"targetAddress":     "SMTP:" + strings.Repeat("t", 1119) + "@x",
	}
	for attr, v := range cases {
		m := ldap.NewModifyRequest(staff("ann"), nil)
		m.Replace(attr, []string{v})
		wantCode(t, c.Modify(m), ldap.LDAPResultConstraintViolation, fmt.Sprintf("replace %s with %d characters", attr, len([]rune(v))))
	}
	m := ldap.NewModifyRequest(staff("ann"), nil)
	m.Replace("displayName", []string{strings.Repeat("x", 8<<20)})
	wantCode(t, c.Modify(m), ldap.LDAPResultConstraintViolation, "an 8 MB displayName")
	add := ldap.NewAddRequest(staff("bea"), nil)
	add.Attribute("objectClass", []string{"user"})
	add.Attribute("sAMAccountName", []string{"bea"})
	add.Attribute("displayName", []string{strings.Repeat("b", 300)})
	wantCode(t, c.Add(add), ldap.LDAPResultConstraintViolation, "an add with a 300-character displayName")
	u, err := tn.ADUser(staff("ann"))
	if err != nil {
		t.Fatal(err)
	}
	if len(u.DisplayName) > 256 || len(u.ProxyAddresses) > 0 || len(u.Mail) > 0 {
		t.Fatalf("a refused value was stored: %+v", u)
	}
	// At the limit is fine.
	m = ldap.NewModifyRequest(staff("ann"), nil)
	m.Replace("displayName", []string{strings.Repeat("é", 256)})
	if err := c.Modify(m); err != nil {
		t.Fatalf("a 256-character displayName: %v", err)
	}
}
