package labhttp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

type exoAnswer struct {
	Value []struct {
		Identity, ExchangeGuid, ArchiveGuid, RecipientTypeDetails, UserPrincipalName string
		ExternalDirectoryObjectId                                                    string
		IsSoftDeletedByRemove, LitigationHoldEnabled, IsInactiveMailbox              bool
		DelayHoldApplied                                                             bool
	} `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// cmdlet invokes one Exchange cmdlet through the admin API.
func cmdlet(t *testing.T, srv string, name string, params map[string]any, out any) *http.Response {
	t.Helper()
	body := map[string]any{"CmdletInput": map[string]any{"CmdletName": name, "Parameters": params}}
	return call(t, "POST", srv+"/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", body, out)
}

// frankServed serves the exchange-guid-in-use scenario and returns it with
// the ExchangeGuid of frank's AD account, the GUID in use.
func frankServed(t *testing.T) (*lab.Tenant, *httptest.Server, string) {
	t.Helper()
	tn := load(t, "exchange-guid-in-use")
	srv := labServer(t, tn, labhttp.ServerOptions{})
	frank, _ := tn.ADUser("CN=frank,OU=Users,DC=corp,DC=example,DC=com")
	return tn, srv, frank.MailboxGUID.String()
}

// TestExchangeGuidInUseOverHTTP walks seed 002 (b) through the Exchange
// admin API: find the soft-deleted holder of the GUID, release the hold,
// purge, retry provisioning, and see the Graph error go.
func TestExchangeGuidInUseOverHTTP(t *testing.T) {
	tn, srv, g := frankServed(t)

	var none exoAnswer
	wantStatus(t, cmdlet(t, srv.URL, "Get-Recipient", map[string]any{"Identity": g}, &none), 404)
	var found exoAnswer
	wantStatus(t, cmdlet(t, srv.URL, "Get-Recipient", map[string]any{"Identity": g, "IncludeSoftDeletedRecipients": true}, &found), 200)
	if len(found.Value) != 1 || !found.Value[0].IsSoftDeletedByRemove || !found.Value[0].LitigationHoldEnabled ||
		found.Value[0].RecipientTypeDetails != "UserMailbox" || found.Value[0].ExchangeGuid != g {
		t.Fatalf("holder = %+v", found.Value)
	}
	var e exoErr
	wantStatus(t, cmdlet(t, srv.URL, "Remove-Mailbox", map[string]any{"Identity": g, "PermanentlyDelete": true}, &e), 400)
	if len(e.Error.Details) != 1 || !strings.Contains(e.Error.Details[0].Message, "Litigation Hold") {
		t.Fatalf("purge on hold: %+v", e)
	}
	wantStatus(t, cmdlet(t, srv.URL, "Set-Mailbox", map[string]any{"Identity": g, "LitigationHoldEnabled": false, "InactiveMailbox": true}, nil), 200)
	// The released hold leaves a delay hold, shown by Get-Mailbox and
	// removed with Set-Mailbox -InactiveMailbox -RemoveDelayHoldApplied
	// (learn.microsoft.com/purview/ediscovery-identify-a-hold-on-an-exchange-online-mailbox).
	var mb exoAnswer
	wantStatus(t, cmdlet(t, srv.URL, "Get-Mailbox", map[string]any{"Identity": g, "SoftDeletedMailbox": true}, &mb), 200)
	if len(mb.Value) != 1 || !mb.Value[0].DelayHoldApplied || !mb.Value[0].IsInactiveMailbox {
		t.Fatalf("mailbox after the release: %+v", mb.Value)
	}
	wantStatus(t, cmdlet(t, srv.URL, "Remove-Mailbox", map[string]any{"Identity": g, "PermanentlyDelete": true}, &e), 400)
	if len(e.Error.Details) != 1 || !strings.Contains(e.Error.Details[0].Message, "DelayHoldApplied") {
		t.Fatalf("purge on delay hold: %+v", e)
	}
	wantStatus(t, cmdlet(t, srv.URL, "Set-Mailbox", map[string]any{"Identity": g, "InactiveMailbox": true, "RemoveDelayHoldApplied": true}, nil), 200)
	wantStatus(t, cmdlet(t, srv.URL, "Remove-Mailbox", map[string]any{"Identity": g, "PermanentlyDelete": true}, nil), 200)

	erin, _ := tn.ADUser("CN=erin,OU=Users,DC=corp,DC=example,DC=com")
	wantStatus(t, cmdlet(t, srv.URL, "Remove-MailUser", map[string]any{"Identity": erin.MailboxGUID.String(), "PermanentlyDelete": true}, nil), 200)

	// A sync cycle exports nothing for users whose AD objects did not
	// change: retrying their service provisioning is what has Exchange
	// validate them again.
	for _, upn := range []string{"frank@contoso.com", "erin@contoso.com"} {
		var u map[string]any
		wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users/"+upn+"?$select=id", nil, &u), 200)
		wantStatus(t, call(t, "POST", srv.URL+"/v1.0/users/"+u["id"].(string)+"/retryServiceProvisioning", nil, nil), 204)
		wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users/"+upn+"?$select=id,serviceProvisioningErrors", nil, &u), 200)
		if errs := u["serviceProvisioningErrors"].([]any); len(errs) != 0 {
			t.Fatalf("%s still has %v", upn, errs)
		}
		var mu exoAnswer
		wantStatus(t, cmdlet(t, srv.URL, "Get-MailUser", map[string]any{"Identity": upn}, &mu), 200)
		if len(mu.Value) != 1 || mu.Value[0].ExternalDirectoryObjectId != u["id"] {
			t.Fatalf("%s mail user = %+v", upn, mu.Value)
		}
	}
}

func TestExchangeMailboxListingPages(t *testing.T) {
	srv := labServer(t, load(t, "healthy"), labhttp.ServerOptions{})
	var all exoAnswer
	wantStatus(t, cmdlet(t, srv.URL, "Get-Mailbox", map[string]any{"ResultSize": "Unlimited"}, &all), 200)
	if len(all.Value) != 25 || all.NextLink != "" {
		t.Fatalf("%d mailboxes, nextLink %q; want 25 on one page", len(all.Value), all.NextLink)
	}
	wantStatus(t, cmdlet(t, srv.URL, "Get-Mailbox", map[string]any{"SoftDeletedMailbox": true}, &all), 200)
	if len(all.Value) != 0 {
		t.Fatalf("soft-deleted mailboxes in a healthy tenant: %+v", all.Value)
	}
	var e odataErr
	wantStatus(t, cmdlet(t, srv.URL, "New-Mailbox", nil, &e), 400)
	wantStatus(t, call(t, "POST", srv.URL+"/adminapi/beta/other.onmicrosoft.com/InvokeCommand", map[string]any{}, nil), 404)
}

func TestExchangeListingFollowsNextLink(t *testing.T) {
	tn, err := lab.FromState(lab.State{Generate: []lab.Generator{{Count: 1500, Name: "m%04d"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := labServer(t, tn, labhttp.ServerOptions{})
	var first exoAnswer
	wantStatus(t, cmdlet(t, srv.URL, "Get-Mailbox", map[string]any{"ResultSize": "Unlimited"}, &first), 200)
	if len(first.Value) != 1000 || first.NextLink == "" {
		t.Fatalf("first page: %d, nextLink %q", len(first.Value), first.NextLink)
	}
	body := map[string]any{"CmdletInput": map[string]any{"CmdletName": "Get-Mailbox", "Parameters": map[string]any{"ResultSize": "Unlimited"}}}
	var second exoAnswer
	wantStatus(t, call(t, "POST", first.NextLink, body, &second), 200)
	if len(second.Value) != 500 || second.NextLink != "" || second.Value[0].UserPrincipalName == first.Value[999].UserPrincipalName {
		t.Fatalf("second page: %d, nextLink %q", len(second.Value), second.NextLink)
	}
	// The listing was served whole: its token names nothing any more.
	var e odataErr
	wantStatus(t, call(t, "POST", first.NextLink, body, &e), 400)
}

func TestControlClockAndLastSync(t *testing.T) {
	tn := load(t, "healthy")
	srv := labServer(t, tn, labhttp.ServerOptions{})
	start := tn.Now()
	wantStatus(t, call(t, "GET", srv.URL+"/lab/sync", nil, nil), 404)
	var clk struct{ Now string }
	wantStatus(t, call(t, "POST", srv.URL+"/lab/clock?advance=720h", nil, &clk), 200)
	if !tn.Now().Equal(start.Add(720 * time.Hour)) {
		t.Fatalf("clock at %v, want %v", tn.Now(), start.Add(720*time.Hour))
	}
	wantStatus(t, call(t, "POST", srv.URL+"/lab/clock?advance=-1h", nil, nil), 400)
	// The scenario's scheduler ran a Delta cycle every 30 minutes.
	var sched lab.SyncResult
	wantStatus(t, call(t, "GET", srv.URL+"/lab/sync", nil, &sched), 200)
	if sched.Policy != lab.Delta || !sched.Started.Equal(tn.Now()) {
		t.Fatalf("last scheduled cycle = %+v, want a Delta cycle at %s", sched, tn.Now())
	}
	wantStatus(t, call(t, "POST", srv.URL+"/lab/sync?policy=Sometimes", nil, nil), 400)
	var res lab.SyncResult
	wantStatus(t, call(t, "POST", srv.URL+"/lab/sync?policy=initial", nil, &res), 200)
	var last lab.SyncResult
	wantStatus(t, call(t, "GET", srv.URL+"/lab/sync", nil, &last), 200)
	if last.Policy != lab.Initial || last.Updated != 25 || last.Status != lab.StatusSuccess {
		t.Fatalf("last sync = %+v", last)
	}
}

// exoErr is the admin API's error answer as public clients of InvokeCommand
// read it (CIPP-API's New-ExoRequest.ps1: error.details[].message, else
// error.innererror.internalException.message, else error.message).
type exoErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Code, Message string
		} `json:"details"`
		InnerError *struct {
			InternalException *struct {
				Message, Type string
			} `json:"internalException"`
		} `json:"innererror"`
	} `json:"error"`
}

// TestExchangeErrorShape: a cmdlet's exception comes as "|type|text" in
// error.details[].message, its text and type in
// error.innererror.internalException; error.message alone does not carry it.
func TestExchangeErrorShape(t *testing.T) {
	srv := labServer(t, load(t, "healthy"), labhttp.ServerOptions{})
	var e exoErr
	wantStatus(t, cmdlet(t, srv.URL, "Get-Recipient", map[string]any{"Identity": "nobody@contoso.com"}, &e), 404)
	const want = "|Microsoft.Exchange.Management.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'nobody@contoso.com' couldn't be found"
	if len(e.Error.Details) != 1 || !strings.HasPrefix(e.Error.Details[0].Message, want) || e.Error.Code != "ManagementObjectNotFoundException" {
		t.Fatalf("error = %+v", e)
	}
	ie := e.Error.InnerError
	if ie == nil || ie.InternalException == nil || ie.InternalException.Type != "Microsoft.Exchange.Management.Tasks.ManagementObjectNotFoundException" ||
		!strings.HasPrefix(ie.InternalException.Message, "The operation couldn't be performed") {
		t.Fatalf("innererror = %+v", ie)
	}
	if strings.Contains(e.Error.Message, "couldn't be found") {
		t.Fatalf("error.message carries the exception: %q", e.Error.Message)
	}
}
