package exo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/instance/instancetest"
	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// labExchange serves a scenario with the lab's real routes and opens the exo
// target bound to it as --lab binds it.
func labExchange(t testing.TB, scenario string) (*lab.Tenant, *labhttp.Server, *Client) {
	t.Helper()
	// Started as rehearse starts it: HTTPS with its CA, tokens from its
	// token endpoint (Exchange.ManageAsApp for the default app).
	in := instancetest.Start(t, instance.Options{Scenario: scenario, Scenarios: lab.ScenarioFiles,
		Server: labhttp.ServerOptions{ReadUnits: 1 << 30, WriteUnits: 1 << 30}})
	return in.Tenant, in.Server, instancetest.Target(t, instancetest.Bind(t, in.URL, nil), "exo", "exo", nil).(*Client)
}

func newCall(t testing.TB, name string, c *Client, given map[string]any) (steps.Type, steps.Call) {
	t.Helper()
	typ := steptest.Step(t, name)
	return typ, steptest.Call(typ, c, given)
}

// dataCall is newCall for a data source.
func dataCall(t testing.TB, name string, c *Client, given map[string]any) (steps.DataSource, steps.Call) {
	t.Helper()
	d := steptest.Lookup(t, name)
	return d, steptest.Call(d, c, given)
}

// plan observes and, for a step type, diffs. A data source only reads:
// its change is zero.
func plan(t *testing.T, typ steps.DataSource, call steps.Call) (steps.Observation, steps.Change, error) {
	t.Helper()
	obs, err := typ.Observe(context.Background(), call)
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	st, ok := typ.(steps.Type)
	if !ok {
		return obs, steps.Change{}, nil
	}
	ch, err := st.Diff(context.Background(), call, obs)
	return obs, ch, err
}

// applyUpdate plans call, which must be an update, applies it, and plans
// it again, which must then be a no-op (an ensure type's Apply is
// idempotent). It returns the change applied.
func applyUpdate(t *testing.T, typ steps.Type, call steps.Call) steps.Change {
	t.Helper()
	_, ch, err := plan(t, typ, call)
	if err != nil || ch.Action != steps.Update {
		t.Fatalf("%s: plan: %v %v", call.Address, ch.Action, err)
	}
	if _, err := typ.Apply(context.Background(), call, ch); err != nil {
		t.Fatalf("%s: apply: %v", call.Address, err)
	}
	if _, again, _ := plan(t, typ, call); again.Action != steps.NoOp {
		t.Fatalf("%s: planned again: %s", call.Address, again.Action)
	}
	return ch
}

// TestGUIDHolderPurge follows seed 002 (b): find what holds erin's
// ExchangeGuid (a soft-deleted mail user) and purge it; then frank's,
// a soft-deleted mailbox on litigation hold, which is refused until the
// hold is released.
func TestGUIDHolderPurge(t *testing.T) {
	tn, _, c := labExchange(t, "exchange-guid-in-use")
	rtyp, rcall := dataCall(t, "exo_recipient", c, map[string]any{"identity": "51515151-5151-5151-5151-515151515151"})
	obs, _, _ := plan(t, rtyp, rcall)
	r := obs.Value.GetAttr("recipients").Index(cty.NumberIntVal(0))
	if obs.Value.GetAttr("count").AsBigFloat().String() != "1" || !r.GetAttr("soft_deleted").True() ||
		r.GetAttr("type").AsString() != "MailUser" || r.GetAttr("exchange_guid").AsString() != "51515151-5151-5151-5151-515151515151" {
		t.Fatalf("holder = %#v", obs.Value)
	}

	ptyp, pcall := newCall(t, "exo_recipient_purge", c, map[string]any{"identity": "51515151-5151-5151-5151-515151515151"})
	_, ch, err := plan(t, ptyp, pcall)
	if err != nil || ch.Action != steps.Delete {
		t.Fatalf("purge plan: %v %v", ch.Action, err)
	}
	if _, err := ptyp.Apply(context.Background(), pcall, ch); err != nil {
		t.Fatalf("purge: %v", err)
	}
	if l := tn.Recipients(lab.RecipientQuery{Identity: "51515151-5151-5151-5151-515151515151", IncludeSoftDeleted: true}); len(l) != 0 {
		t.Fatalf("still there: %v", l)
	}
	if _, ch, err := plan(t, ptyp, pcall); err != nil || ch.Action != steps.NoOp {
		t.Fatalf("purge again: %v %v", ch.Action, err)
	}
	// Applying the recorded change again (a resume) is harmless.
	if _, err := ptyp.Apply(context.Background(), pcall, ch); err != nil {
		t.Fatalf("repeated purge: %v", err)
	}

	// frank's holder is on hold: planned, but refused at apply.
	const frank = "52525252-5252-5252-5252-525252525252"
	_, fcall := newCall(t, "exo_recipient_purge", c, map[string]any{"identity": frank})
	_, fch, err := plan(t, ptyp, fcall)
	if err != nil || fch.Action != steps.Delete || !fch.Before.GetAttr("litigation_hold").True() {
		t.Fatalf("frank plan: %v %v %#v", fch.Action, err, fch.Before)
	}
	_, err = ptyp.Apply(context.Background(), fcall, fch)
	if !steps.IsPermanent(err) || !strings.Contains(err.Error(), "litigation hold") {
		t.Fatalf("purge on hold: %v", err)
	}

	// Release the hold; revert puts it back; release again and purge.
	htyp, hcall := newCall(t, "exo_hold", c, map[string]any{"identity": frank, "enabled": false})
	hch := applyUpdate(t, htyp, hcall)
	if err := htyp.(steps.Reverter).Revert(context.Background(), hcall, hch); err != nil {
		t.Fatal(err)
	}
	if l := tn.Recipients(lab.RecipientQuery{Identity: frank, IncludeSoftDeleted: true}); len(l) != 1 || !l[0].LitigationHoldEnabled {
		t.Fatalf("after revert: %+v", l)
	}
	if _, err := htyp.Apply(context.Background(), hcall, hch); err != nil {
		t.Fatal(err)
	}
	// The release left a delay hold, which keeps the mailbox on hold
	// (learn.microsoft.com/purview/ediscovery-identify-a-hold-on-an-exchange-online-mailbox).
	if _, err := ptyp.Apply(context.Background(), fcall, fch); err == nil || !strings.Contains(err.Error(), "DelayHoldApplied") {
		t.Fatalf("purge under a delay hold: %v, want the refusal naming DelayHoldApplied", err)
	}
	dtyp, dcall := newCall(t, "exo_delay_hold", c, map[string]any{"identity": frank})
	applyUpdate(t, dtyp, dcall)
	if _, err := ptyp.Apply(context.Background(), fcall, fch); err != nil {
		t.Fatalf("purge after release: %v", err)
	}
	if l := tn.Recipients(lab.RecipientQuery{Identity: frank, IncludeSoftDeleted: true}); len(l) != 0 {
		t.Fatalf("frank's holder still there: %+v", l)
	}
}

// TestPurgeRefusesActive: an active mailbox is never purged.
func TestPurgeRefusesActive(t *testing.T) {
	_, _, c := labExchange(t, "healthy")
	typ, call := newCall(t, "exo_recipient_purge", c, map[string]any{"identity": "user00001@contoso.com"})
	_, _, err := plan(t, typ, call)
	if !steps.IsPermanent(err) || !strings.Contains(err.Error(), "active") {
		t.Fatalf("diff = %v", err)
	}
	// Nothing by that name: nothing to do.
	_, call = newCall(t, "exo_recipient_purge", c, map[string]any{"identity": "99999999-9999-9999-9999-999999999999"})
	if _, ch, err := plan(t, typ, call); err != nil || ch.Action != steps.NoOp {
		t.Fatalf("missing: %v %v", ch.Action, err)
	}
}

// TestMailboxArchiveGUID reads the cloud ArchiveGuid seed 002 (a) needs.
func TestMailboxArchiveGUID(t *testing.T) {
	_, _, c := labExchange(t, "archive-guid-mismatch")
	typ, call := dataCall(t, "exo_mailbox", c, map[string]any{"identity": "arch1@contoso.com"})
	obs, _, _ := plan(t, typ, call)
	if obs.Value.GetAttr("archive_guid").AsString() != "a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1" ||
		obs.Value.GetAttr("exchange_guid").AsString() != "2ee058fc-b05c-4a68-9cab-6dfff99fcdd3" || obs.Value.GetAttr("litigation_hold").True() {
		t.Fatalf("mailbox = %#v", obs.Value)
	}
	_, call = dataCall(t, "exo_mailbox", c, map[string]any{"identity": "nobody@contoso.com"})
	if _, err := typ.Observe(context.Background(), call); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing mailbox: %v", err)
	}
}

// TestThrottledCallsComplete: with a third of requests answered 429 with
// Retry-After and a tenth 503, reads still complete.
func TestThrottledCallsComplete(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out Retry-After")
	}
	_, s, c := labExchange(t, "healthy")
	s.SetFaults(labhttp.Faults{Throttle: 0.3, Unavailable: 0.1})
	statuses := map[int]int{}
	base := c.HTTP.Transport // verifies the lab's certificate
	c.HTTP = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(r)
		if err == nil {
			statuses[resp.StatusCode]++
		}
		return resp, err
	})}
	typ, call := dataCall(t, "exo_mailbox", c, map[string]any{"identity": "user00002@contoso.com"})
	for i := 0; i < 8; i++ {
		if _, err := typ.Observe(context.Background(), call); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if statuses[429] == 0 || statuses[200] != 8 {
		t.Fatalf("statuses = %v, want some 429 and 8 successes", statuses)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestErrorDecoding reads the exception out of the admin API's message.
func TestErrorDecoding(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Retry-After", "7")
	rec.WriteHeader(404)
	body := `{"error":{"code":"NotFound","message":"|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'x' couldn't be found on 'AM0PR01.prod.outlook.com'."}}`
	e := decodeError(rec.Result(), []byte(body))
	if e.Exception != "ManagementObjectNotFoundException" || !strings.HasPrefix(e.Message, "The operation couldn't") || !e.NotFound() || e.RetryAfter.Seconds() != 7 {
		t.Fatalf("error = %+v", e)
	}
	var resp http.Response
	resp.StatusCode, resp.Header = 400, http.Header{}
	// The shape public clients of InvokeCommand read (CIPP-API's
	// New-ExoRequest.ps1): the exception in error.details[].message, else in
	// error.innererror.internalException; error.message is general. The
	// texts and the outer types here are illustrative, not the service's.
	shaped := `{"error":{"code":"InternalServerError","message":"Error executing cmdlet",` +
		`"details":[{"code":"Context","target":"","message":"|Microsoft.Exchange.Management.Tasks.RecipientTaskException|The mailbox is on litigation hold."}],` +
		`"innererror":{"message":"Error executing cmdlet","type":"Microsoft.Exchange.Admin.OData.Core.ODataServiceException",` +
		`"internalException":{"message":"The mailbox is on litigation hold.","type":"Microsoft.Exchange.Management.Tasks.RecipientTaskException"}}}}`
	if e := decodeError(&resp, []byte(shaped)); e.Exception != "RecipientTaskException" || e.Message != "The mailbox is on litigation hold." {
		t.Fatalf("details error = %+v", e)
	}
	innerOnly := `{"error":{"code":"InternalServerError","message":"Error executing cmdlet","innererror":{"message":"Error executing cmdlet",` +
		`"internalException":{"message":"Object 'x' couldn't be found.","type":"Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"}}}}`
	if e := decodeError(&resp, []byte(innerOnly)); e.Exception != "ManagementObjectNotFoundException" || e.Message != "Object 'x' couldn't be found." || !e.NotFound() {
		t.Fatalf("innererror error = %+v", e)
	}
	if e := decodeError(&resp, []byte("<html>bad gateway</html>")); e.Message != "<html>bad gateway</html>" {
		t.Fatalf("non-JSON error = %+v", e)
	}
}

// cmdletInput is the body of an InvokeCommand request, as a test server
// reads it.
type cmdletInput struct {
	CmdletInput struct {
		CmdletName string         `json:"CmdletName"`
		Parameters map[string]any `json:"Parameters"`
	} `json:"CmdletInput"`
}

// TestInvokeShapeAndPaging checks the request the admin API expects (the
// CmdletInput body, the bearer token, X-AnchorMailbox) and that every page
// of an answer is read.
func TestInvokeShapeAndPaging(t *testing.T) {
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body cmdletInput
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.CmdletInput.CmdletName != "Get-Recipient" ||
			body.CmdletInput.Parameters["IncludeSoftDeletedRecipients"] != true ||
			r.Header.Get("Authorization") != "Bearer tok" ||
			r.Header.Get("X-AnchorMailbox") != "UPN:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.onmicrosoft.com" {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("$skiptoken") == "" {
			fmt.Fprintf(w, `{"value":[{"ExchangeObjectId":"a","RecipientTypeDetails":"MailUser","ExchangeGuid":"51515151-5151-5151-5151-515151515151","WhenSoftDeleted":"2026-01-01T09:00:00Z"}],"@odata.nextLink":%q}`,
				srvURL+"/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand?$skiptoken=1")
			return
		}
		fmt.Fprint(w, `{"value":[{"ExchangeObjectId":"b","RecipientTypeDetails":"UserMailbox","ExchangeGuid":"51515151-5151-5151-5151-515151515151"}]}`)
	}))
	defer srv.Close()
	srvURL = srv.URL
	c := &Client{Endpoint: srv.URL + "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", Organization: "contoso.onmicrosoft.com", Tokens: staticToken("tok")}
	l, err := c.recipients(context.Background(), "51515151-5151-5151-5151-515151515151")
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 2 || !l[0].SoftDeleted() || l[1].SoftDeleted() {
		t.Fatalf("recipients = %+v", l)
	}
}

type staticToken string

func (s staticToken) Token(context.Context) (string, error) { return string(s), nil }

// TestOpenRefusesPlainHTTP: a url that is not https:// is refused before
// any token is asked for, naming the target, the setting and its value.
func TestOpenRefusesPlainHTTP(t *testing.T) {
	cfg := steps.TargetConfig{Name: "mail", Config: steptest.Config(targetType{}.Info().Schema,
		map[string]any{"organization": "contoso.onmicrosoft.com", "url": "http://outlook.office365.com"})}
	_, err := targetType{}.Open(t.Context(), cfg)
	if want := `exo: target mail: url "http://outlook.office365.com" must be an https:// URL`; err == nil || err.Error() != want {
		t.Fatalf("Open = %v, want %q", err, want)
	}
}

// TestHoldChangesKeepTheirJournalShape: what exo_hold and exo_delay_hold
// record in a change's Private is read back by resume and rollback, maybe
// from a journal an earlier rebind wrote: the recorded mailbox's fields
// stay where they were, and such a record decodes.
func TestHoldChangesKeepTheirJournalShape(t *testing.T) {
	m := recordedMailbox{ObjectID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", Inactive: true}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{holdPrivate{recordedMailbox: m, Before: true},
			`{"exchange_object_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","inactive":true,"before":true}`},
		{delayPrivate{recordedMailbox: m, Hold: true},
			`{"exchange_object_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","inactive":true,"hold":true,"release":false}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%T = %s, %v; want %s", tc.v, b, err, tc.want)
		}
	}
	var p holdPrivate
	if err := json.Unmarshal([]byte(`{"exchange_object_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","inactive":true,"before":false}`), &p); err != nil ||
		p.recordedMailbox != m || p.Before {
		t.Fatalf("decoded %+v, %v", p, err)
	}
}

// TestHoldStepsTellSetMailboxAnInactiveMailbox: exo_hold and
// exo_delay_hold send Set-Mailbox -InactiveMailbox for a mailbox that was
// inactive when planned, which Set-Mailbox needs to change one
// (https://learn.microsoft.com/powershell/module/exchangepowershell/set-mailbox#-inactivemailbox),
// and leave it out for an active one.
func TestHoldStepsTellSetMailboxAnInactiveMailbox(t *testing.T) {
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body cmdletInput
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.CmdletInput.CmdletName != "Set-Mailbox" {
			w.WriteHeader(400)
			return
		}
		got = append(got, body.CmdletInput.Parameters)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"value":[]}`)
	}))
	defer srv.Close()
	c := &Client{Endpoint: srv.URL + "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", Organization: "contoso.onmicrosoft.com",
		Tokens: staticToken("tok"), HTTP: srv.Client()}
	const id = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	for _, inactive := range []bool{true, false} {
		got = nil
		m := recordedMailbox{ObjectID: id, Inactive: inactive}
		htyp, hcall := newCall(t, "exo_hold", c, map[string]any{"identity": id, "enabled": false})
		hpriv, _ := json.Marshal(holdPrivate{recordedMailbox: m, Before: true})
		if _, err := htyp.Apply(context.Background(), hcall, steps.Change{Action: steps.Update, Private: hpriv}); err != nil {
			t.Fatal(err)
		}
		dtyp, dcall := newCall(t, "exo_delay_hold", c, map[string]any{"identity": id})
		dpriv, _ := json.Marshal(delayPrivate{recordedMailbox: m, Hold: true, Release: true})
		if _, err := dtyp.Apply(context.Background(), dcall, steps.Change{Action: steps.Update, Private: dpriv}); err != nil {
			t.Fatal(err)
		}
		want := []map[string]any{
			{"Identity": id, "LitigationHoldEnabled": false},
			{"Identity": id, "RemoveDelayHoldApplied": true, "RemoveDelayReleaseHoldApplied": true},
		}
		for _, w := range want {
			if inactive {
				w["InactiveMailbox"] = true
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("inactive %t: Set-Mailbox got %v, want %v", inactive, got, want)
		}
	}
}
