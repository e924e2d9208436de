package labhttp_test

import (
	"strings"
	"testing"
)

// TestExchangeFilter reads recipients with -Filter as Exchange documents
// it (https://learn.microsoft.com/powershell/exchange/filter-properties and
// the -Filter parameter of Get-Recipient and Get-Mailbox): criteria chained
// with -or and -and, GUIDs compared as GUIDs, EmailAddresses matched with or
// without its smtp: prefix, case-insensitive text, $null, and a property
// refused on a cmdlet its section does not list.
func TestExchangeFilter(t *testing.T) {
	_, srv, g := frankServed(t)
	var all exoAnswer
	wantStatus(t, cmdlet(t, srv.URL, "Get-Mailbox", map[string]any{"ResultSize": "Unlimited"}, &all), 200)
	if len(all.Value) < 3 {
		t.Fatalf("%d mailboxes", len(all.Value))
	}
	a, b := all.Value[0], all.Value[1]

	count := func(cmd string, params map[string]any) int {
		t.Helper()
		var out exoAnswer
		wantStatus(t, cmdlet(t, srv.URL, cmd, params, &out), 200)
		return len(out.Value)
	}
	// The documented example's form, chained with -or; GUIDs in upper case.
	f := "ExchangeGuid -eq '" + a.ExchangeGuid + "' -or ExchangeGuid -eq '" + strings.ToUpper(b.ExchangeGuid) + "'"
	if n := count("Get-Mailbox", map[string]any{"Filter": f, "ResultSize": "Unlimited"}); n != 2 {
		t.Fatalf("%s: %d mailboxes, want 2", f, n)
	}
	// -and inside parentheses; case-insensitive text.
	f = "(UserPrincipalName -eq '" + strings.ToUpper(a.UserPrincipalName) + "' -and ExchangeGuid -eq '" + a.ExchangeGuid + "') -or Alias -eq 'nobody-at-all'"
	if n := count("Get-Mailbox", map[string]any{"Filter": f}); n != 1 {
		t.Fatalf("%s: %d mailboxes, want 1", f, n)
	}
	// EmailAddresses with and without the prefix; -ne.
	for _, v := range []string{a.UserPrincipalName, "smtp:" + a.UserPrincipalName} {
		if n := count("Get-Recipient", map[string]any{"Filter": "EmailAddresses -eq '" + v + "'"}); n != 1 {
			t.Fatalf("EmailAddresses -eq %q: %d, want 1", v, n)
		}
	}
	if n := count("Get-Mailbox", map[string]any{"Filter": "ExchangeGuid -ne '" + a.ExchangeGuid + "'", "ResultSize": "Unlimited"}); n != len(all.Value)-1 {
		t.Fatalf("-ne: %d, want %d", n, len(all.Value)-1)
	}
	// The soft-deleted holder of seed 002's GUID is found by its GUID
	// only with the switch that includes it, as with -Identity.
	if n := count("Get-Recipient", map[string]any{"Filter": "ExchangeGuid -eq '" + g + "'"}); n != 0 {
		t.Fatalf("soft-deleted recipient without -IncludeSoftDeletedRecipients: %d", n)
	}
	if n := count("Get-Recipient", map[string]any{"Filter": "ExchangeGuid -eq '" + g + "' -or ArchiveGuid -eq '" + g + "'", "IncludeSoftDeletedRecipients": true}); n != 1 {
		t.Fatalf("soft-deleted recipient with -IncludeSoftDeletedRecipients: %d", n)
	}
	// $null: every mailbox here has an ExchangeGuid.
	if n := count("Get-Mailbox", map[string]any{"Filter": "ExchangeGuid -eq $null"}); n != 0 {
		t.Fatalf("ExchangeGuid -eq $null: %d", n)
	}

	for _, bad := range []struct{ cmd, filter, want string }{
		// UserPrincipalName's section lists Get-Mailbox and Get-MailUser, not Get-Recipient.
		{"Get-Recipient", "UserPrincipalName -eq 'a@contoso.com'", "not a recognized filterable property"},
		{"Get-Mailbox", "Department -eq 'Sales'", "not a recognized filterable property"},
		{"Get-Mailbox", "ExchangeGuid -eq 'not-a-guid'", "not a GUID"},
		{"Get-Mailbox", "Alias -like 'a*'", "-eq and -ne only"},
		{"Get-Mailbox", "Alias -eq 'open", "no closing quotation mark"},
		{"Get-Mailbox", "(Alias -eq 'a'", "closing parenthesis"},
		{"Get-Mailbox", "Alias -eq 'a' Alias", "operator"},
	} {
		var e exoErr
		wantStatus(t, cmdlet(t, srv.URL, bad.cmd, map[string]any{"Filter": bad.filter}, &e), 400)
		if len(e.Error.Details) != 1 || !strings.Contains(e.Error.Details[0].Message, bad.want) {
			t.Errorf("%s -Filter %q: %+v, want %q", bad.cmd, bad.filter, e.Error, bad.want)
		}
	}
}
