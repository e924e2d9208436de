package entra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/instance/instancetest"
	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/steps"
)

// labPost calls the lab's control API.
func labPost(t *testing.T, url string) {
	t.Helper()
	hc, err := control.Client(url, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

// TestRestoreMistakeOverGraph walks seed 000's fix through the lab's Graph
// endpoint: read the deleted user, restore it, clear its immutable ID, run
// an Initial cycle and wait for the soft match to stamp the new anchor.
// Each ensure step is planned again afterwards and must be a no-op; each
// revert must bring back the recorded before-value.
func TestRestoreMistakeOverGraph(t *testing.T) {
	tn, _, srv := labTenant(t, "restore-mistake", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	const upn = "nicki@contoso.com"

	typ, call := dataCall(t, "entra_user", c, map[string]any{"upn": upn, "deleted": true})
	obs, _ := plan(t, typ, call)
	v := obs.Value
	if !v.GetAttr("deleted").True() || v.GetAttr("immutable_id").AsString() != "my9s3SP45EGOfMGNUp35Hg==" ||
		v.GetAttr("deleted_days_left").AsBigFloat().String() != "30" || v.GetAttr("licenses").LengthInt() != 1 {
		t.Fatalf("deleted user = %#v", v)
	}
	if n := v.GetAttr("provisioning_errors").LengthInt(); n != 1 {
		t.Fatalf("provisioning errors = %d, want the AttributeValueMustBeUnique one", n)
	}
	pe := v.GetAttr("provisioning_errors").Index(ctyZero)
	if pe.GetAttr("category").AsString() == "" || pe.GetAttr("property").AsString() == "" {
		t.Fatalf("provisioning error not decoded: %#v", pe)
	}
	// Without deleted = true the recycle bin is not searched.
	if _, err := typ.Observe(context.Background(), mustCall(t, "entra_user", c, map[string]any{"upn": upn})); !errors.Is(err, steps.ErrNotFound) {
		t.Fatalf("active lookup of a deleted user: %v, want ErrNotFound", err)
	}

	// Restore.
	rtyp, rcall := newCall(t, "entra_user_restored", c, map[string]any{"upn": upn}, true)
	ch, res := apply(t, rtyp, rcall)
	if ch.Action != steps.Create || res.Value.GetAttr("id").AsString() != v.GetAttr("id").AsString() {
		t.Fatalf("restore: %s %#v", ch.Action, res.Value)
	}
	if u, err := tn.CloudUser(upn); err != nil || u.Deleted() {
		t.Fatalf("lab user after restore: %v %v", u.DeletedDateTime, err)
	}
	if _, again := plan(t, rtyp, rcall); again.Action != steps.NoOp {
		t.Fatalf("restore planned again: %s, want no-op", again.Action)
	}
	// Revert deletes it again; a second apply restores it again.
	if err := rtyp.(steps.Reverter).Revert(context.Background(), rcall, ch); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.CloudUser(upn); err == nil {
		t.Fatal("revert left the user active")
	}
	apply(t, rtyp, rcall)

	// Clear the immutable ID.
	ityp, icall := newCall(t, "entra_immutable_id", c, map[string]any{"upn": upn, "immutable_id": nil}, true)
	ich, _ := apply(t, ityp, icall)
	if ich.Action != steps.Update || ich.Before.GetAttr("anchor_guid").AsString() != "dd6c2f9b-f823-41e4-8e7c-c18d529df91e" {
		t.Fatalf("clear: %s before %#v", ich.Action, ich.Before)
	}
	if u, _ := tn.CloudUser(upn); u.OnPremisesImmutableID != "" {
		t.Fatalf("immutable ID after clear = %q", u.OnPremisesImmutableID)
	}
	if _, again := plan(t, ityp, icall); again.Action != steps.NoOp {
		t.Fatalf("clear planned again: %s", again.Action)
	}
	if err := ityp.(steps.Reverter).Revert(context.Background(), icall, ich); err != nil {
		t.Fatal(err)
	}
	if u, _ := tn.CloudUser(upn); u.OnPremisesImmutableID != "my9s3SP45EGOfMGNUp35Hg==" {
		t.Fatalf("immutable ID after revert = %q", u.OnPremisesImmutableID)
	}
	apply(t, ityp, icall)

	// Before the cycle the user is cloud-managed: the wait is "not yet".
	want, _ := anchor.ImmutableIDFromGUID("012114da-8d79-4015-8a5f-ddfc20df81db")
	wtyp, wcall := newCall(t, "entra_user_state", c, map[string]any{"upn": upn, "immutable_id": want, "sync_enabled": true}, true)
	if _, w := plan(t, wtyp, mustCall(t, "entra_user_state", c, map[string]any{"upn": upn, "immutable_id": want, "sync_enabled": true})); w.Action != steps.Update {
		t.Fatalf("await before the cycle: %s, want update", w.Action)
	}
	if _, err := wtyp.Apply(context.Background(), wcall, steps.Change{Action: steps.Update}); !steps.IsPermanent(err) || !strings.Contains(err.Error(), "changed by sync") {
		t.Fatalf("apply of entra_user_state: %v", err)
	}
	labPost(t, srv.URL+"/lab/sync?policy=Initial")
	if _, w := plan(t, wtyp, wcall); w.Action != steps.NoOp {
		t.Fatalf("await after the Initial cycle: %s, want no-op (bound)", w.Action)
	}
}

// TestImmutableIDRefusedWhileSynced checks the error for a user mastered
// on premises: it is permanent and names the user and the cause.
func TestImmutableIDRefusedWhileSynced(t *testing.T) {
	_, _, srv := labTenant(t, "healthy", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, map[string]any{"batch": false})
	typ, call := newCall(t, "entra_immutable_id", c, map[string]any{"upn": "user00003@contoso.com", "immutable_id": nil}, true)
	_, ch := plan(t, typ, call)
	_, err := typ.Apply(context.Background(), call, ch)
	if !steps.IsPermanent(err) || !strings.Contains(err.Error(), "user00003@contoso.com") || !strings.Contains(err.Error(), "mastered on premises") {
		t.Fatalf("error = %v", err)
	}
	// The same through a batch.
	cb := openLab(t, srv.URL, nil)
	typ, call = newCall(t, "entra_immutable_id", cb, map[string]any{"upn": "user00003@contoso.com", "immutable_id": nil}, true)
	if _, err := typ.Apply(context.Background(), call, ch); !steps.IsPermanent(err) || !strings.Contains(err.Error(), "mastered on premises") {
		t.Fatalf("batched error = %v", err)
	}
}

// TestAwaitEndsOnProvisioningError: a synced user whose export failed
// reports AttributeValueMustBeUnique; waiting for it ends at once.
func TestAwaitEndsOnProvisioningError(t *testing.T) {
	_, _, srv := labTenant(t, "rebuilt-ad", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	args := map[string]any{"upn": "user01@contoso.com", "immutable_id": "AAAAAAAAAAAAAAAAAAAAAA=="}
	typ, call := newCall(t, "entra_user_state", c, args, true)
	obs, err := typ.Observe(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	_, err = typ.Diff(context.Background(), call, obs)
	if !steps.IsPermanent(err) || !strings.Contains(err.Error(), "PropertyConflict on ProxyAddresses") {
		t.Fatalf("diff = %v, want a permanent error with the conflict", err)
	}
	// Errors older than errors_since do not end the wait.
	since := map[string]any{"upn": "user01@contoso.com", "immutable_id": "AAAAAAAAAAAAAAAAAAAAAA==", "errors_since": "2026-08-03T09:00:01Z"}
	_, scall := newCall(t, "entra_user_state", c, since, true)
	if ch, err := typ.Diff(context.Background(), scall, obs); err != nil || ch.Action != steps.Update {
		t.Fatalf("diff with errors_since = %v %v", ch.Action, err)
	}
	// At plan time the error does not fail the plan.
	_, pcall := newCall(t, "entra_user_state", c, args, false)
	if ch, err := typ.Diff(context.Background(), pcall, obs); err != nil || ch.Action != steps.Update {
		t.Fatalf("plan-time diff = %v %v", ch.Action, err)
	}
	// A user that does not exist yet is "not yet".
	_, ncall := newCall(t, "entra_user_state", c, map[string]any{"upn": "nobody@contoso.com", "sync_enabled": true}, true)
	if _, ch := plan(t, typ, ncall); ch.Action != steps.Update {
		t.Fatalf("missing user: %s", ch.Action)
	}
}

// TestPurgeStaleDeletedUser purges a stale recycle-bin copy (seed 001) and
// is a no-op afterwards.
func TestPurgeStaleDeletedUser(t *testing.T) {
	tn, _, srv := labTenant(t, "rebuilt-ad", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	typ, call := newCall(t, "entra_user_purge", c, map[string]any{"upn": "user01.old@contoso.com"}, true)
	ch, res := apply(t, typ, call)
	if ch.Action != steps.Delete || res.Value.GetAttr("purged").LengthInt() != 1 {
		t.Fatalf("purge: %s %#v", ch.Action, res.Value)
	}
	if l, _ := tn.CloudUsers(lab.CloudQuery{Deleted: true, UserPrincipalName: "user01.old@contoso.com"}); len(l) != 0 {
		t.Fatalf("still in the recycle bin: %v", l)
	}
	if _, again := plan(t, typ, call); again.Action != steps.NoOp {
		t.Fatalf("purge planned again: %s", again.Action)
	}
	// An active user is never purged.
	_, acall := newCall(t, "entra_user_purge", c, map[string]any{"upn": "user01@contoso.com"}, true)
	if _, ch := plan(t, typ, acall); ch.Action != steps.NoOp {
		t.Fatalf("purge of an active user: %s", ch.Action)
	}
}

// TestDirSyncOffAndTheWindow turns sync off, shows that it cannot be
// turned on inside the window, and turns it on after the lab's clock
// passes 72 hours.
func TestDirSyncOffAndTheWindow(t *testing.T) {
	_, _, srv := labTenant(t, "healthy", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	ttyp, tcall := dataCall(t, "entra_tenant", c, nil)
	if obs, _ := plan(t, ttyp, tcall); obs.Value.GetAttr("sync_state").AsString() != "on" {
		t.Fatalf("tenant = %#v", obs.Value)
	}
	typ, off := newCall(t, "entra_dir_sync", c, map[string]any{"enabled": false}, true)
	if ch, _ := apply(t, typ, off); ch.Action != steps.Update {
		t.Fatalf("turn off: %s", ch.Action)
	}
	if _, ch := plan(t, typ, off); ch.Action != steps.NoOp {
		t.Fatalf("turn off again: %s", ch.Action)
	}
	_, on := newCall(t, "entra_dir_sync", c, map[string]any{"enabled": true}, true)
	_, ch := plan(t, typ, on)
	_, err := typ.Apply(context.Background(), on, ch)
	if !steps.IsPermanent(err) || !strings.Contains(err.Error(), "72 hours") {
		t.Fatalf("turn on inside the window: %v", err)
	}
	// Users become cloud-managed when it completes; wait for one.
	wtyp, wcall := newCall(t, "entra_user_state", c, map[string]any{"upn": "user00001@contoso.com", "sync_enabled": false}, true)
	if _, w := plan(t, wtyp, wcall); w.Action != steps.Update {
		t.Fatalf("before 72h the user is still synced: %s", w.Action)
	}
	labPost(t, srv.URL+"/lab/clock?advance=72h")
	if _, w := plan(t, wtyp, wcall); w.Action != steps.NoOp {
		t.Fatalf("after 72h: %s", w.Action)
	}
	apply(t, typ, on)
	if obs, _ := plan(t, ttyp, tcall); obs.Value.GetAttr("sync_enabled").False() {
		t.Fatal("sync still off")
	}
	if typ.Info().Reversibility != steps.Irreversible || !strings.Contains(typ.Info().IrreversibleReason, "72 hours") {
		t.Fatal("entra_dir_sync must be irreversible with the 72-hour reason")
	}
}

// TestUsersPagedAndFiltered lists every user across pages and filters by
// UPN.
func TestUsersPagedAndFiltered(t *testing.T) {
	_, _, srv := labTenant(t, "healthy", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	typ, call := dataCall(t, "entra_users", c, nil)
	obs, _ := plan(t, typ, call)
	if n := obs.Value.GetAttr("count").AsBigFloat().String(); n != "26" {
		t.Fatalf("count = %s, want 26", n)
	}
	_, call = dataCall(t, "entra_users", c, map[string]any{"filter": "userPrincipalName eq 'user00007@contoso.com'"})
	obs, _ = plan(t, typ, call)
	if obs.Value.GetAttr("count").AsBigFloat().String() != "1" ||
		obs.Value.GetAttr("by_upn").Index(ctyString("user00007@contoso.com")).GetAttr("sync_enabled").False() {
		t.Fatalf("filtered = %#v", obs.Value)
	}
	_, call = dataCall(t, "entra_users", c, map[string]any{"max": 3})
	if obs, _ = plan(t, typ, call); obs.Value.GetAttr("count").AsBigFloat().String() != "3" {
		t.Fatal("max not honoured")
	}
}

// TestDeletedUsersListed reads the whole recycle bin: seed 001's three
// stale copies, each with its days left on the lab's clock.
func TestDeletedUsersListed(t *testing.T) {
	_, _, srv := labTenant(t, "rebuilt-ad", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	typ, call := dataCall(t, "entra_users", c, map[string]any{"deleted": true})
	obs, _ := plan(t, typ, call)
	if obs.Value.GetAttr("count").AsBigFloat().String() != "3" {
		t.Fatalf("deleted users = %#v", obs.Value)
	}
	// Deleted on 2026-07-24, read on 2026-08-03: 20 of 30 days left.
	u := obs.Value.GetAttr("by_upn").Index(ctyString("user01.old@contoso.com"))
	if !u.GetAttr("deleted").True() || u.GetAttr("deleted_days_left").AsBigFloat().String() != "20" {
		t.Fatalf("user01.old = %#v", u)
	}
}

// TestReprovisionClearsServiceError purges the soft-deleted mail user
// holding erin's ExchangeGuid through the lab model, then reprovisions her
// over Graph: the Exchange error must be gone.
func TestReprovisionClearsServiceError(t *testing.T) {
	tn, _, srv := labTenant(t, "exchange-guid-in-use", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	typ, call := dataCall(t, "entra_user", c, map[string]any{"upn": "erin@contoso.com"})
	obs, _ := plan(t, typ, call)
	svc := obs.Value.GetAttr("service_provisioning_errors")
	if svc.LengthInt() != 1 || !strings.Contains(svc.Index(ctyZero).GetAttr("text").AsString(), `property "ExchangeGuid" is used by another recipient object`) {
		t.Fatalf("service errors = %#v", svc)
	}
	if strings.Contains(svc.Index(ctyZero).GetAttr("text").AsString(), "<") {
		t.Fatal("XML not decoded")
	}
	if err := tn.RemoveRecipient("51515151-5151-5151-5151-515151515151", lab.MailUser); err != nil {
		t.Fatal(err)
	}
	rtyp, rcall := newCall(t, "entra_user_reprovision", c, map[string]any{"upn": "erin@contoso.com"}, true)
	_, ch := plan(t, rtyp, rcall)
	if _, err := rtyp.Apply(context.Background(), rcall, ch); err != nil {
		t.Fatalf("reprovision: %v", err)
	}
	if u, _ := tn.CloudUser("erin@contoso.com"); len(u.ServiceProvisioningErrors) != 0 {
		t.Fatalf("service errors after reprovisioning: %v", u.ServiceProvisioningErrors)
	}
}

// TestRefusalsOfADeletedUser: a deleted user cannot be changed (restore it
// first), and cannot be restored onto a UPN another user took, unless it is
// restored under a new one.
func TestRefusalsOfADeletedUser(t *testing.T) {
	tn, _, srv := labTenant(t, "restore-mistake", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	const upn = "nicki@contoso.com"
	ityp, icall := newCall(t, "entra_immutable_id", c, map[string]any{"upn": upn, "immutable_id": nil}, true)
	_, ch := plan(t, ityp, icall)
	if _, err := ityp.Apply(context.Background(), icall, ch); !steps.IsPermanent(err) || !strings.Contains(err.Error(), "recycle bin") {
		t.Fatalf("clearing a deleted user: %v", err)
	}
	if _, err := tn.AddCloudUser(lab.CloudUser{UserPrincipalName: upn, DisplayName: "taken"}); err != nil {
		t.Fatal(err)
	}
	del, _ := tn.CloudUsers(lab.CloudQuery{Deleted: true, UserPrincipalName: upn})
	rtyp, rcall := newCall(t, "entra_user_restored", c, map[string]any{"id": del[0].ID}, true)
	_, rch := plan(t, rtyp, rcall)
	_, err := rtyp.Apply(context.Background(), rcall, rch)
	if !steps.IsPermanent(err) || !strings.Contains(err.Error(), "new_user_principal_name") {
		t.Fatalf("restore onto a taken UPN: %v", err)
	}
	_, rcall = newCall(t, "entra_user_restored", c, map[string]any{"id": del[0].ID, "new_user_principal_name": "nicki.restored@contoso.com",
		"auto_reconcile_proxy_conflict": true}, true)
	if _, res := apply(t, rtyp, rcall); res.Value.GetAttr("upn").AsString() != "nicki.restored@contoso.com" {
		t.Fatalf("restored as %#v", res.Value)
	}
}

// TestExchangeErrorsDoNotEndASyncWait: erin's Exchange validation error
// comes after the export, so a wait for her anchor goes on ("not yet"),
// while a wait for the error to clear sees it as not yet cleared.
func TestExchangeErrorsDoNotEndASyncWait(t *testing.T) {
	_, _, srv := labTenant(t, "exchange-guid-in-use", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	typ, call := newCall(t, "entra_user_state", c, map[string]any{"upn": "erin@contoso.com", "immutable_id": "AAAAAAAAAAAAAAAAAAAAAA=="}, true)
	if _, ch := plan(t, typ, call); ch.Action != steps.Update {
		t.Fatalf("anchor wait: %s", ch.Action)
	}
	_, call = newCall(t, "entra_user_state", c, map[string]any{"upn": "erin@contoso.com", "service_errors_cleared": true}, true)
	if _, ch := plan(t, typ, call); ch.Action != steps.Update || ch.Before.GetAttr("service_errors_cleared").True() {
		t.Fatalf("cleared wait: %s %#v", ch.Action, ch.Before)
	}
}

// entra_tenant reads whether the tenant blocks soft match from Graph's
// GET /directory/onPremisesSynchronization, so a runbook that relies on
// soft match (restore-mistake) can refuse before it writes.
func TestTenantReadsSoftMatchBlock(t *testing.T) {
	for _, blocked := range []bool{false, true} {
		tn, _, srv := labTenant(t, "healthy", labhttp.ServerOptions{})
		tn.SetSoftMatchBlocked(blocked)

		// App-only (the lab's default app): Graph refuses the read (the
		// API supports delegated Global Administrator sign-in only), and
		// the features are unknown, never false.
		c := openLab(t, srv.URL, nil)
		typ, call := dataCall(t, "entra_tenant", c, nil)
		obs, _ := plan(t, typ, call)
		if got := obs.Value.GetAttr("soft_match"); got.AsString() != "unknown" || !obs.Value.GetAttr("soft_match_blocked").IsNull() ||
			!strings.Contains(obs.Value.GetAttr("features_unreadable").AsString(), "Global Administrator") {
			t.Fatalf("app-only: soft_match = %#v, soft_match_blocked = %#v, features_unreadable = %#v; want unknown, null and the reason",
				got, obs.Value.GetAttr("soft_match_blocked"), obs.Value.GetAttr("features_unreadable"))
		}

		// A Global Administrator's delegated token reads them.
		tok := delegatedToken(t, srv.URL, "OnPremDirectorySynchronization.Read.All Organization.Read.All", labhttp.RoleGlobalAdministrator)
		c = openLabEnv(t, srv.URL, nil, map[string]string{"REBIND_LAB_TOKEN": tok})
		typ, call = dataCall(t, "entra_tenant", c, nil)
		obs, _ = plan(t, typ, call)
		if got := obs.Value.GetAttr("soft_match_blocked"); got.IsNull() || got.True() != blocked {
			t.Fatalf("soft_match_blocked = %#v, want %v", got, blocked)
		}
		if got := obs.Value.GetAttr("hard_match_takeover_blocked"); got.IsNull() || got.True() {
			t.Fatalf("hard_match_takeover_blocked = %#v, want false", got)
		}
		want := map[bool]string{true: "blocked", false: "allowed"}[blocked]
		if got := obs.Value.GetAttr("soft_match").AsString(); got != want {
			t.Fatalf("soft_match = %q, want %q", got, want)
		}
	}
}

// TestDeletedUserFoundUnderAPrefixedUPN: a deleted user whose UPN carries
// its object id without dashes in front (as steps/entra's README records a
// real tenant doing; no Microsoft page found says so) is found by its UPN,
// through the advanced query endswith(userPrincipalName, ...) with
// ConsistencyLevel: eventual and $count=true, which the lab answers only
// with those parameters (https://learn.microsoft.com/graph/aad-advanced-queries).
func TestDeletedUserFoundUnderAPrefixedUPN(t *testing.T) {
	tn, err := lab.LoadScenario(lab.ScenarioFiles, "restore-mistake")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tn.Save(&buf); err != nil {
		t.Fatal(err)
	}
	var st lab.State
	if err := json.Unmarshal(buf.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	const upn = "nicki@contoso.com"
	var id string
	for i, u := range st.Users {
		if u.DeletedDateTime != nil && strings.EqualFold(u.UserPrincipalName, upn) {
			st.Users[i].UserPrincipalName = strings.ReplaceAll(u.ID, "-", "") + u.UserPrincipalName
			id = u.ID
		}
	}
	if id == "" {
		t.Fatal("the scenario has no deleted nicki")
	}
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	in := instancetest.Start(t, instance.Options{Scenario: "variant", Scenarios: fstest.MapFS{"scenarios/variant.json": {Data: raw}},
		Server: labhttp.ServerOptions{ReadUnits: 1 << 30, WriteUnits: 1 << 30}})
	c := openLab(t, in.URL, nil)
	typ, call := dataCall(t, "entra_user", c, map[string]any{"upn": upn, "deleted": true})
	obs, _ := plan(t, typ, call)
	if got := obs.Value.GetAttr("id").AsString(); got != id || !obs.Value.GetAttr("deleted").True() {
		t.Fatalf("deleted %s found as %#v, want %s", upn, obs.Value, id)
	}
}

// delegatedToken mints a delegated Graph token at the lab (POST
// /lab/token; the lab serves no interactive sign-in).
func delegatedToken(t *testing.T, base, scp string, wids ...string) string {
	t.Helper()
	hc, err := control.Client(base, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"user": "admin@contoso.com", "scp": scp, "wids": wids})
	resp, err := hc.Post(base+"/lab/token", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("delegated token: %s %v", resp.Status, err)
	}
	return out.AccessToken
}

// TestAwaitSyncedSince: in forest-move every cloud user already holds its
// anchor and is synced, by the old forest's Connect server; synced_since
// makes the wait last until a newer export reached the user
// (onPremisesLastSyncDateTime, learn.microsoft.com/graph/api/resources/user).
func TestAwaitSyncedSince(t *testing.T) {
	tn, _, srv := labTenant(t, "forest-move", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	u, err := tn.CloudUser("ada@contoso.com")
	if err != nil || u.OnPremisesLastSyncDateTime == nil {
		t.Fatalf("ada: %v %+v", err, u)
	}
	last := u.OnPremisesLastSyncDateTime.UTC()
	args := func(since string) map[string]any {
		return map[string]any{"upn": "ada@contoso.com", "immutable_id": u.OnPremisesImmutableID, "sync_enabled": true, "synced_since": since}
	}
	typ, call := newCall(t, "entra_user_state", c, args(last.Format(time.RFC3339)), true)
	if _, ch := plan(t, typ, call); ch.Action != steps.NoOp {
		t.Fatalf("synced_since = the last sync: %s, want no-op", ch.Action)
	}
	_, call = newCall(t, "entra_user_state", c, args(last.Add(time.Second).Format(time.RFC3339)), true)
	if _, ch := plan(t, typ, call); ch.Action != steps.Update {
		t.Fatalf("synced_since after the last sync: %s, want update (not yet)", ch.Action)
	}
	// Without synced_since the same user already matches: the argument is
	// what tells the old server's export from the new one's.
	_, call = newCall(t, "entra_user_state", c, map[string]any{"upn": "ada@contoso.com", "immutable_id": u.OnPremisesImmutableID, "sync_enabled": true}, true)
	if _, ch := plan(t, typ, call); ch.Action != steps.NoOp {
		t.Fatalf("without synced_since: %s", ch.Action)
	}
	_, call = newCall(t, "entra_user_state", c, args("yesterday"), true)
	obs, err := typ.Observe(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := typ.Diff(context.Background(), call, obs); !steps.IsPermanent(err) || !strings.Contains(err.Error(), `synced_since "yesterday"`) {
		t.Fatalf("a bad time: %v", err)
	}
}
