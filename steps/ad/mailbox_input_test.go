package ad

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// The alias and routing domain go into Enable-RemoteMailbox's script. An
// alias holds letters, numbers, !#$%&'*+-/=?^_`{|}~, periods between
// other characters and U+00A1 to U+00FF, at most 64 characters (the Alias
// parameter of learn.microsoft.com/powershell/module/exchangepowershell/
// enable-remotemailbox); a routing domain is a DNS name (RFC 1123 2.1).
// Anything else is refused before a script is built, naming the step.
func TestRemoteMailboxRefusesAliasAndDomainOutsideTheirGrammar(t *testing.T) {
	call := func(alias, domain string) steps.Call {
		return steps.Call{Address: "step.ad_remote_mailbox.relink", Config: cty.ObjectVal(map[string]cty.Value{
			"alias": cty.StringVal(alias), "routing_domain": cty.StringVal(domain), "new_mailbox": cty.NullVal(cty.Bool),
		})}
	}
	current := cty.ObjectVal(map[string]cty.Value{"proxy_addresses": cty.ListValEmpty(cty.String)})
	for _, c := range []struct{ alias, domain string }{
		{"o'neil", "contoso.mail.onmicrosoft.com"},
		{"help.desk", "@contoso.mail.onmicrosoft.com"},
		{"j\u00f6rg_{x}|~", "tenant-1.mail.onmicrosoft.com"},
		{strings.Repeat("a", 64), "contoso.com"},
	} {
		if _, err := desiredMailbox(call(c.alias, c.domain), current); err != nil {
			t.Errorf("alias %q, domain %q: %v", c.alias, c.domain, err)
		}
	}
	for _, c := range []struct{ alias, domain, want string }{
		{"x\u2019;Remove-Mailbox\t-Identity\tboss;\u2019", "contoso.com", "alias"},
		{"a\tb", "contoso.com", "alias"},
		{".help", "contoso.com", "alias"},
		{"help..desk", "contoso.com", "alias"},
		{"help.", "contoso.com", "alias"},
		{strings.Repeat("a", 65), "contoso.com", "alias"},
		{"a@b", "contoso.com", "alias"},
		{"", "contoso.com", "alias"},
		{"ok", "contoso.com'; Remove-Mailbox boss; '", "routing_domain"},
		{"ok", "-contoso.com", "routing_domain"},
		{"ok", "contoso..com", "routing_domain"},
		{"ok", "", "routing_domain"},
	} {
		_, err := desiredMailbox(call(c.alias, c.domain), current)
		if err == nil {
			t.Errorf("alias %q, domain %q: accepted", c.alias, c.domain)
			continue
		}
		if !strings.Contains(err.Error(), "step.ad_remote_mailbox.relink") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("alias %q, domain %q: %v, want the step and %s named", c.alias, c.domain, err, c.want)
		}
	}
}
