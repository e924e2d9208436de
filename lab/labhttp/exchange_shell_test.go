package labhttp

import "testing"

// The lab reads the scripts sent to its Exchange shell as PowerShell
// does: a single-quoted string ends on ' and on the typographic single
// quotes U+2018 to U+201B alike, and two of them in a row stand for the
// second ("PowerShell treats smart quotation marks, also called
// typographic or curly quotes, as normal quotation marks for strings",
// learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_quoting_rules).
// A client that doubled only ' would have its script cut short here, as
// Exchange's shell would.
func TestExchangeShellQuotesAsPowerShell(t *testing.T) {
	const id = "'6f1c1f2e-7d43-4d2b-9f8e-0a3c5b7d9e11'"
	for _, q := range []string{"'", "\u2018", "\u2019", "\u201a", "\u201b"} {
		cut := "Enable-RemoteMailbox -Identity " + id + " -RemoteRoutingAddress 'a@contoso.mail.onmicrosoft.com' -Alias 'x" + q + ";Remove-Mailbox boss;" + q + "'"
		if exEnable.MatchString(cut) {
			t.Errorf("%U: a quote left single ends the string, yet the script was taken as one Enable-RemoteMailbox", []rune(q)[0])
		}
		doubled := "Enable-RemoteMailbox -Identity " + id + " -RemoteRoutingAddress 'a@contoso.mail.onmicrosoft.com' -Alias 'o" + q + q + "neil'"
		m := exEnable.FindStringSubmatch(doubled)
		if m == nil {
			t.Errorf("%U doubled: refused", []rune(q)[0])
			continue
		}
		if got := psUnquote(m[3]); got != "o"+q+"neil" {
			t.Errorf("%U doubled: alias %q, want %q", []rune(q)[0], got, "o"+q+"neil")
		}
	}
	// Any two single quotes in a row are one: the second.
	if got := psUnquote("a\u2019'b"); got != "a'b" {
		t.Errorf("psUnquote(a’'b) = %q, want a'b", got)
	}
}
