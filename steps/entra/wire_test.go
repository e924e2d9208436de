package entra

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/steps/credential"
)

// recorder answers every request with 204 and keeps the decoded bodies.
type recorder struct {
	mu     sync.Mutex
	bodies map[string]string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		rd = zr
	}
	b, _ := io.ReadAll(rd)
	rec.mu.Lock()
	rec.bodies[r.Method+" "+r.URL.Path] = string(b)
	rec.mu.Unlock()
	if r.Method == http.MethodPost {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"@odata.type":"#microsoft.graph.user","id":"u1","userPrincipalName":"a@contoso.com"}`)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serverClient is a Client of a Graph played by h, with a fixed token;
// the server stops when the test ends.
func serverClient(t *testing.T, h http.Handler) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := NewClient(ClientOptions{GraphURL: srv.URL, Credential: credential.Static("t")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wireClient(t *testing.T) (*Client, *recorder) {
	rec := &recorder{bodies: map[string]string{}}
	return serverClient(t, rec), rec
}

// TestClearSendsExplicitNull checks the bytes the SDK puts on the wire:
// SetOnPremisesImmutableId(nil) must be an explicit null, or Graph would
// leave the anchor in place and the soft match would never happen.
func TestClearSendsExplicitNull(t *testing.T) {
	c, rec := wireClient(t)
	if err := c.patchImmutableID(context.Background(), "u1", nil); err != nil {
		t.Fatal(err)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal([]byte(rec.bodies["PATCH /v1.0/users/u1"]), &body); err != nil {
		t.Fatalf("body %q: %v", rec.bodies["PATCH /v1.0/users/u1"], err)
	}
	if v, ok := body["onPremisesImmutableId"]; !ok || string(v) != "null" {
		t.Fatalf("PATCH body = %s, want onPremisesImmutableId: null", rec.bodies["PATCH /v1.0/users/u1"])
	}
	id := "Hrz/HqNKnU+lCNTYHx9Ycw=="
	if err := c.patchImmutableID(context.Background(), "u1", &id); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(rec.bodies["PATCH /v1.0/users/u1"]), &body)
	if string(body["onPremisesImmutableId"]) != `"Hrz/HqNKnU+lCNTYHx9Ycw=="` {
		t.Fatalf("PATCH body = %s", rec.bodies["PATCH /v1.0/users/u1"])
	}
}

// TestRestoreSendsItsParameters: the SDK's Restore().Post has no body; the
// step must send the optional parameters itself.
func TestRestoreSendsItsParameters(t *testing.T) {
	c, rec := wireClient(t)
	u, err := c.restoreUser(context.Background(), "u1", true, "b@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "u1" || u.UPN != "a@contoso.com" {
		t.Fatalf("restored user = %+v", u)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(rec.bodies["POST /v1.0/directory/deletedItems/u1/restore"]), &body); err != nil {
		t.Fatal(err)
	}
	if body["autoReconcileProxyConflict"] != true || body["newUserPrincipalName"] != "b@contoso.com" {
		t.Fatalf("restore body = %v", body)
	}
	// Without parameters there is no body at all.
	if _, err := c.restoreUser(context.Background(), "u2", false, ""); err != nil {
		t.Fatal(err)
	}
	if b := rec.bodies["POST /v1.0/directory/deletedItems/u2/restore"]; b != "" {
		t.Fatalf("restore without parameters sent %q", b)
	}
}

// TestServiceErrorText decodes Exchange's XML error records.
func TestServiceErrorText(t *testing.T) {
	for _, tc := range []struct{ detail, code, text string }{
		{`<ErrorRecord><ErrorDescription>The value "51515151-5151-5151-5151-515151515151" of property "ExchangeGuid" is used by another recipient object. Please specify a unique value.</ErrorDescription></ErrorRecord>`,
			"", `The value "51515151-5151-5151-5151-515151515151" of property "ExchangeGuid" is used by another recipient object. Please specify a unique value.`},
		{`<ServiceInstance Name="exchange/namprd03.prod.outlook.com"><ObjectErrors><ErrorRecord xmlns="http://schemas.microsoft.com/online/directoryservices/change/2008/11"><ErrorCode>ExA77C31</ErrorCode><ErrorParameters><ErrorParameter>x</ErrorParameter></ErrorParameters><ErrorDescription>Failed to sync the ArchiveGuid 00000000-0000-0000-0000-000000000000 of mailbox 28b65659 because one cloud archive 45e245ba exists.</ErrorDescription></ErrorRecord></ObjectErrors></ServiceInstance>`,
			"ExA77C31", "Failed to sync the ArchiveGuid 00000000-0000-0000-0000-000000000000 of mailbox 28b65659 because one cloud archive 45e245ba exists."},
		{`<ErrorRecord><ErrorDescription>Tom &amp; Jerry &lt;x&gt;</ErrorDescription></ErrorRecord>`, "", "Tom & Jerry <x>"},
		{"plain text, not XML", "", "plain text, not XML"},
		{"<Broken><ErrorCode>E1", "", "E1"},
	} {
		code, text := serviceErrorText(tc.detail)
		if code != tc.code || text != tc.text {
			t.Errorf("serviceErrorText(%q) = %q, %q; want %q, %q", tc.detail, code, text, tc.code, tc.text)
		}
	}
}

// TestRetrySendsTheBodyAgain: a PATCH answered 429 is sent again by the
// SDK's retry handler after Retry-After, with its body intact.
func TestRetrySendsTheBodyAgain(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	c := serverClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		n := len(bodies)
		mu.Unlock()
		if n < 3 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	if err := c.patchImmutableID(context.Background(), "u1", nil); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 3 || bodies[0] == "" || bodies[1] != bodies[0] || bodies[2] != bodies[0] {
		t.Fatalf("bodies sent = %q, want the same body three times", bodies)
	}
}

// TestDeletedUserWithMangledUPN: a real tenant renames a deleted user to
// <id without dashes><upn>, so `eq` finds nothing; the advanced query with
// endswith must find it, and the look-up must send ConsistencyLevel.
func TestDeletedUserWithMangledUPN(t *testing.T) {
	var mu sync.Mutex
	var advanced http.Header
	c := serverClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		f := r.URL.Query().Get("$filter")
		switch {
		case r.URL.Path == "/v1.0/users/nicki@contoso.com":
			w.WriteHeader(404)
			io.WriteString(w, `{"error":{"code":"Request_ResourceNotFound","message":"not found"}}`)
		case f == "userPrincipalName eq 'nicki@contoso.com'":
			io.WriteString(w, `{"value":[]}`)
		case f == "endswith(userPrincipalName,'nicki@contoso.com')":
			mu.Lock()
			advanced = r.Header.Clone()
			mu.Unlock()
			if r.URL.Query().Get("$count") != "true" {
				w.WriteHeader(400)
				return
			}
			io.WriteString(w, `{"value":[
			  {"@odata.type":"#microsoft.graph.user","id":"f0690b7f-c6c6-4b85-8ded-ea7f07245334","userPrincipalName":"f0690b7fc6c64b858dedea7f07245334nicki@contoso.com","deletedDateTime":"2026-04-07T12:00:00Z","onPremisesImmutableId":"my9s3SP45EGOfMGNUp35Hg=="},
			  {"@odata.type":"#microsoft.graph.user","id":"11111111-2222-3333-4444-555555555555","userPrincipalName":"11111111222233334444555555555555annicki@contoso.com","deletedDateTime":"2026-04-08T12:00:00Z"}]}`)
		default:
			w.WriteHeader(400)
			io.WriteString(w, `{"error":{"code":"BadRequest","message":"unexpected `+r.URL.String()+`"}}`)
		}
	}))
	u, err := c.findUser(context.Background(), selector{UPN: "nicki@contoso.com"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "f0690b7f-c6c6-4b85-8ded-ea7f07245334" || u.ImmutableID == nil || *u.ImmutableID != "my9s3SP45EGOfMGNUp35Hg==" {
		t.Fatalf("found %+v; annicki@ must not match nicki@", u)
	}
	if advanced.Get("ConsistencyLevel") != "eventual" {
		t.Fatalf("advanced query headers = %v", advanced)
	}
}

// TestDaysLeftCountFromTheServiceClock: a deleted user's days left in the
// recycle bin count from the Date of Graph's answers, the clock of the
// service that will purge it, not from this machine's clock.
func TestDaysLeftCountFromTheServiceClock(t *testing.T) {
	service := time.Date(2031, 3, 1, 12, 0, 0, 0, time.UTC)
	c := serverClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", service.Format(http.TimeFormat))
		w.WriteHeader(http.StatusNoContent)
	}))
	if err := c.patchImmutableID(context.Background(), "u1", nil); err != nil {
		t.Fatal(err)
	}
	if got := c.now(); got.Before(service) || got.After(service.Add(time.Minute)) {
		t.Fatalf("now() = %s, want the service's %s", got, service)
	}
	deleted := service.Add(-10 * 24 * time.Hour)
	vs, err := c.values(context.Background(), user{ID: "u1", UPN: "a@contoso.com", Deleted: &deleted})
	if err != nil {
		t.Fatal(err)
	}
	if got := vs[0].GetAttr("deleted_days_left").AsBigFloat().String(); got != "20" {
		t.Errorf("deleted_days_left = %s, want 20 (30 days from deletion, counted on the service's clock)", got)
	}
}
