package ad

import (
	"context"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func TestRemoteMailboxWritesOnlyWhatDiffersAndReverts(t *testing.T) {
	c := needSamba(t).open(t)
	ctx := context.Background()
	proxies := []string{"SMTP:carol@corp.example", "smtp:carol@old.example"}
	// mailNickname is already right: it must not be in the change.
	u := newUser(t, c, map[string][]string{"proxyAddresses": proxies, "mailNickname": {"carol"}})
	const (
		exchangeGUID = "1effbc1e-4aa3-4f9d-a508-d4d81f1f5873"
		archiveGUID  = "35918bc9-196d-40ea-9779-889d79b753f0"
	)
	typ, call := newCall(t, "ad_remote_mailbox", c, map[string]any{
		"upn": u.upn, "alias": "carol", "routing_domain": "contoso.mail.onmicrosoft.com",
		"exchange_guid": exchangeGUID, "archive_guid": strings.ToUpper(archiveGUID),
	})
	obs, ch := plan(t, typ, call)
	if obs.Object != "ad:"+str(obs.Value, "object_guid") {
		t.Errorf("object name %s", obs.Object)
	}
	if ch.Action != steps.Update {
		t.Fatalf("Diff = %s", ch.Action)
	}
	if ch.After.Type().HasAttribute("mail_nickname") {
		t.Error("mailNickname already equals the alias but is in the change")
	}
	for _, f := range []string{"target_address", "recipient_type_details", "remote_recipient_type", "recipient_display_type", "proxy_addresses", "exchange_guid", "archive_guid"} {
		if !ch.After.Type().HasAttribute(f) {
			t.Errorf("change lacks %s", f)
		}
	}
	if _, err := typ.Apply(ctx, call, ch); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	v := observe(t, "ad_user", c, map[string]any{"upn": u.upn})
	checks := map[string]string{
		"target_address": "SMTP:carol@contoso.mail.onmicrosoft.com",
		"exchange_guid":  exchangeGUID,
		"archive_guid":   archiveGUID,
		"mail_nickname":  "carol",
	}
	for f, want := range checks {
		if got := str(v, f); got != want {
			t.Errorf("%s = %s, want %s", f, got, want)
		}
	}
	nums := map[string]int64{"recipient_type_details": 2147483648, "remote_recipient_type": 4, "recipient_display_type": -2147483642}
	for f, want := range nums {
		if got := v.GetAttr(f); got.IsNull() || !got.Equals(cty.NumberIntVal(want)).True() {
			t.Errorf("%s = %#v, want %d", f, got, want)
		}
	}
	if got := readRaw(t, c, u.dn, "msExchMailboxGuid"); len(got) != 1 || string(got[0]) != string(mustParse(t, exchangeGUID).Bytes()) {
		t.Errorf("msExchMailboxGuid bytes % x", got)
	}
	wantProxies := append(append([]string{}, proxies...), "smtp:carol@contoso.mail.onmicrosoft.com")
	if got := readRaw(t, c, u.dn, "proxyAddresses"); !sameValues(got, toBytes(wantProxies)) {
		t.Errorf("proxyAddresses = %q, want %q", got, wantProxies)
	}
	if _, again := plan(t, typ, call); again.Action != steps.NoOp {
		t.Errorf("second Diff = %s %#v, want no-op", again.Action, again.After)
	}

	if err := typ.(steps.Reverter).Revert(ctx, call, ch); err != nil {
		t.Fatalf("Revert: %v", err)
	}
	v = observe(t, "ad_user", c, map[string]any{"upn": u.upn})
	for _, f := range []string{"target_address", "exchange_guid", "archive_guid", "recipient_type_details", "remote_recipient_type", "recipient_display_type"} {
		if !v.GetAttr(f).IsNull() {
			t.Errorf("after Revert %s = %#v, want null", f, v.GetAttr(f))
		}
	}
	if str(v, "mail_nickname") != "carol" {
		t.Error("Revert touched mailNickname, which Apply did not write")
	}
	if got := readRaw(t, c, u.dn, "proxyAddresses"); !sameValues(got, toBytes(proxies)) {
		t.Errorf("after Revert proxyAddresses = %q", got)
	}
}

func TestRemoteMailboxNewMailboxAndExplicitProxies(t *testing.T) {
	c := needSamba(t).open(t)
	u := newUser(t, c, map[string][]string{"proxyAddresses": {"smtp:dave@stale.example"}})
	typ, call := newCall(t, "ad_remote_mailbox", c, map[string]any{
		"sam_account_name": u.sam, "alias": "dave", "routing_domain": "contoso.mail.onmicrosoft.com",
		"new_mailbox": true, "proxy_addresses": []string{"SMTP:dave@corp.example", "smtp:DAVE@contoso.mail.onmicrosoft.com"},
	})
	_, ch := plan(t, typ, call)
	if _, err := typ.Apply(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	v := observe(t, "ad_user", c, map[string]any{"upn": u.upn})
	if !v.GetAttr("remote_recipient_type").Equals(cty.NumberIntVal(1)).True() {
		t.Errorf("new_mailbox: remote_recipient_type = %#v, want 1", v.GetAttr("remote_recipient_type"))
	}
	// The routing address was given (in another case): not added twice;
	// the stale address is gone because the list is exact.
	got := readRaw(t, c, u.dn, "proxyAddresses")
	if !sameValues(got, toBytes([]string{"SMTP:dave@corp.example", "smtp:DAVE@contoso.mail.onmicrosoft.com"})) {
		t.Errorf("proxyAddresses = %q", got)
	}

	typ, call = newCall(t, "ad_remote_mailbox", c, map[string]any{"upn": u.upn, "alias": "dave@corp", "routing_domain": "contoso.mail.onmicrosoft.com"})
	obs, err := typ.Observe(context.Background(), call)
	if err == nil {
		_, err = typ.Diff(context.Background(), call, obs)
	}
	if err == nil {
		t.Error("an alias with @ should be refused")
	}
}
