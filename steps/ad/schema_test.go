package ad

import (
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps/steptest"
)

// exchangeAttributes are the Exchange schema attributes the steps use, as
// the Exchange schema defines them (syntax, oMSyntax, single-valued). Samba's
// base schema has none of them. The OIDs are a test-only arc made the way
// Microsoft's OID generation script makes them (1.2.840.113556.1.8000.2554.*):
// the Samba DC only needs them unique.
var exchangeAttributes = []struct {
	cn, name, syntax string
	omSyntax         int
}{
	{"ms-Exch-Mail-Nickname", "mailNickname", "2.5.5.12", 64},
	{"ms-Exch-Target-Address", "targetAddress", "2.5.5.12", 64},
	{"ms-Exch-Mailbox-Guid", "msExchMailboxGuid", "2.5.5.10", 4},
	{"ms-Exch-Archive-GUID", "msExchArchiveGUID", "2.5.5.10", 4},
	{"ms-Exch-Recipient-Type-Details", "msExchRecipientTypeDetails", "2.5.5.16", 65},
	{"ms-Exch-Remote-Recipient-Type", "msExchRemoteRecipientType", "2.5.5.16", 65},
	{"ms-Exch-Recipient-Display-Type", "msExchRecipientDisplayType", "2.5.5.9", 2},
}

const testOIDArc = "1.2.840.113556.1.8000.2554.47290.22346.17212.43395.55713.1247733"

// extendSchema adds the Exchange attributes the steps use to the DC's
// schema, allows them on users, and reloads the schema. Samba refuses
// schema writes unless smb.conf says "dsdb:schema update allowed = true".
func extendSchema(conn *ldap.Conn) error {
	schemaDN := "CN=Schema,CN=Configuration," + sambaBaseDN
	var added []string
	for i, a := range exchangeAttributes {
		res, err := conn.Search(ldap.NewSearchRequest(schemaDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(lDAPDisplayName="+a.name+")", []string{"cn"}, nil))
		if err != nil {
			return fmt.Errorf("schema: look up %s: %w", a.name, err)
		}
		if len(res.Entries) > 0 {
			continue
		}
		req := ldap.NewAddRequest("CN="+a.cn+","+schemaDN, nil)
		req.Attribute("objectClass", []string{"top", "attributeSchema"})
		req.Attribute("cn", []string{a.cn})
		req.Attribute("attributeID", []string{fmt.Sprintf("%s.%d", testOIDArc, i+1)})
		req.Attribute("attributeSyntax", []string{a.syntax})
		req.Attribute("oMSyntax", []string{fmt.Sprint(a.omSyntax)})
		req.Attribute("isSingleValued", []string{"TRUE"})
		req.Attribute("lDAPDisplayName", []string{a.name})
		req.Attribute("adminDisplayName", []string{a.cn})
		req.Attribute("searchFlags", []string{"1"})
		if err := conn.Add(req); err != nil {
			return fmt.Errorf("schema: add %s: %w", a.name, err)
		}
		added = append(added, a.name)
	}
	if err := reloadSchema(conn); err != nil {
		return err
	}
	if len(added) > 0 {
		mod := ldap.NewModifyRequest("CN=User,"+schemaDN, nil)
		mod.Add("mayContain", added)
		if err := conn.Modify(mod); err != nil {
			return fmt.Errorf("schema: allow %s on users: %w", strings.Join(added, ", "), err)
		}
	}
	return reloadSchema(conn)
}

// reloadSchema asks the DC to load schema changes now (schemaUpdateNow on
// the rootDSE).
func reloadSchema(conn *ldap.Conn) error {
	mod := ldap.NewModifyRequest("", nil)
	mod.Replace("schemaUpdateNow", []string{"1"})
	if err := conn.Modify(mod); err != nil {
		return fmt.Errorf("schema: schemaUpdateNow: %w", err)
	}
	return nil
}

// targetConfig builds a target block's value: every schema attribute, null
// when not given, as the engine hands it over.
func targetConfig(given map[string]any) cty.Value {
	return steptest.Config(targetType{}.Info().Schema, given)
}
