package labhttp_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// load loads a bundled scenario.
func load(t testing.TB, name string) *lab.Tenant {
	t.Helper()
	tn, err := lab.LoadScenario(lab.ScenarioFiles, name)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// labServer serves tenant tn on a loopback listener.
func labServer(t testing.TB, tn *lab.Tenant, opts labhttp.ServerOptions) *httptest.Server {
	t.Helper()
	if opts.ReadUnits == 0 {
		opts.ReadUnits = 1 << 30
	}
	// These tests are about Graph's behaviour, not its tokens: the lab
	// serves them anonymously over plain HTTP (auth_test.go talks to it
	// as an outside client does).
	opts.Anonymous = true
	srv := httptest.NewServer(labhttp.NewServer(tn, opts))
	t.Cleanup(srv.Close)
	return srv
}

// call sends a request and decodes a JSON answer into out (when not nil).
func call(t testing.TB, method, u string, body any, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, u, resp.StatusCode, b, err)
		}
	}
	return resp
}

type odataErr struct {
	Error struct{ Code, Message string } `json:"error"`
}

func wantStatus(t *testing.T, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d", resp.Request.Method, resp.Request.URL, resp.StatusCode, status)
	}
}

func TestGraphSelectReturnsOnPremisesOnlyWhenAsked(t *testing.T) {
	srv := labServer(t, load(t, "healthy"), labhttp.ServerOptions{})
	var plain map[string]any
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users/user00003@contoso.com", nil, &plain), 200)
	if plain["userPrincipalName"] != "user00003@contoso.com" || plain["id"] == nil {
		t.Fatalf("user = %v", plain)
	}
	if _, ok := plain["onPremisesImmutableId"]; ok {
		t.Fatalf("onPremisesImmutableId returned without $select: %v", plain)
	}
	var sel map[string]any
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users/user00003@contoso.com?$select=id,onPremisesImmutableId,onPremisesSyncEnabled,assignedLicenses", nil, &sel), 200)
	if sel["onPremisesSyncEnabled"] != true || sel["onPremisesImmutableId"] == nil || sel["displayName"] != nil {
		t.Fatalf("selected user = %v", sel)
	}
	var byID map[string]any
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users/"+plain["id"].(string), nil, &byID), 200)
	var e odataErr
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users/user00003@contoso.com?$select=nope", nil, &e), 400)
	if e.Error.Code == "" || !strings.Contains(e.Error.Message, "nope") {
		t.Fatalf("error body = %+v", e)
	}
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users/ghost@contoso.com", nil, &e), 404)
	if e.Error.Code != "Request_ResourceNotFound" {
		t.Fatalf("404 code = %q", e.Error.Code)
	}
}

type userPage struct {
	Value    []map[string]any `json:"value"`
	NextLink string           `json:"@odata.nextLink"`
}

func TestGraphFilterAndPaging(t *testing.T) {
	tn := load(t, "healthy")
	srv := labServer(t, tn, labhttp.ServerOptions{})
	seen := map[string]bool{}
	next := srv.URL + "/v1.0/users?$top=10&$select=id,userPrincipalName"
	pages := 0
	for next != "" {
		var p userPage
		wantStatus(t, call(t, "GET", next, nil, &p), 200)
		for _, u := range p.Value {
			if seen[u["id"].(string)] {
				t.Fatalf("user %v on two pages", u["id"])
			}
			seen[u["id"].(string)] = true
		}
		next, pages = p.NextLink, pages+1
	}
	if len(seen) != 26 || pages != 3 {
		t.Fatalf("%d users on %d pages, want 26 on 3", len(seen), pages)
	}
	var p userPage
	f := url.QueryEscape("userPrincipalName eq 'user00007@contoso.com'")
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users?$filter="+f+"&$select=id,onPremisesImmutableId", nil, &p), 200)
	if len(p.Value) != 1 {
		t.Fatalf("filter on UPN = %v", p.Value)
	}
	imm := p.Value[0]["onPremisesImmutableId"].(string)
	f = url.QueryEscape("onPremisesImmutableId eq '" + imm + "'")
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users?$filter="+f, nil, &p), 200)
	if len(p.Value) != 1 || p.Value[0]["userPrincipalName"] != "user00007@contoso.com" {
		t.Fatalf("filter on immutable ID = %v", p.Value)
	}
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users?$top=1000", nil, nil), 400)
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users?$filter="+url.QueryEscape("startswith(mail,'x')"), nil, nil), 400)
}

// gzipPatch sends a PATCH with a gzip-compressed body, as the Graph SDK does.
func gzipPatch(t *testing.T, u, body string) *http.Response {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(body))
	_ = zw.Close()
	req, _ := http.NewRequest("PATCH", u, &buf)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestGraphRestoreMistakeOverHTTP drives seed 000's loop and its fix over
// Graph and the control API.
func TestGraphRestoreMistakeOverHTTP(t *testing.T) {
	srv := labServer(t, load(t, "restore-mistake"), labhttp.ServerOptions{})
	var del userPage
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/directory/deletedItems/microsoft.graph.user?$select=id,userPrincipalName,deletedDateTime,onPremisesImmutableId", nil, &del), 200)
	if len(del.Value) != 1 || del.Value[0]["@odata.type"] != "#microsoft.graph.user" {
		t.Fatalf("deleted users = %v", del.Value)
	}
	id := del.Value[0]["id"].(string)
	oldAnchor := del.Value[0]["onPremisesImmutableId"].(string)
	if r := gzipPatch(t, srv.URL+"/v1.0/users/"+id, `{"onPremisesImmutableId":null}`); r.StatusCode != 404 {
		t.Fatalf("PATCH of a deleted user: %d, want 404 (restore first)", r.StatusCode)
	}
	var restored map[string]any
	wantStatus(t, call(t, "POST", srv.URL+"/v1.0/directory/deletedItems/"+id+"/restore", nil, &restored), 200)
	var res lab.SyncResult
	wantStatus(t, call(t, "POST", srv.URL+"/lab/sync?policy=Delta", nil, &res), 200)
	if res.Deleted != 1 || len(res.Errors) != 1 || res.Errors[0].Code != lab.CodeAttributeValueMustBeUnique {
		t.Fatalf("cycle after restoring alone = %+v", res)
	}
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/directory/deletedItems/"+id, nil, nil), 200)
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users/"+id, nil, nil), 404)
	wantStatus(t, call(t, "POST", srv.URL+"/v1.0/directory/deletedItems/"+id+"/restore", map[string]any{"autoReconcileProxyConflict": true}, nil), 200)
	if r := gzipPatch(t, srv.URL+"/v1.0/users/"+id, `{"onPremisesImmutableId":null}`); r.StatusCode != 204 {
		t.Fatalf("clear immutable ID: %d", r.StatusCode)
	}
	var fixed lab.SyncResult
	wantStatus(t, call(t, "POST", srv.URL+"/lab/sync?policy=Initial", nil, &fixed), 200)
	if len(fixed.Errors) != 0 || fixed.Deleted != 0 || fixed.Status != lab.StatusSuccess {
		t.Fatalf("Initial cycle after the fix = %+v", fixed)
	}
	var u map[string]any
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users/nicki@contoso.com?$select=id,onPremisesImmutableId,onPremisesSyncEnabled", nil, &u), 200)
	wantStatus(t, call(t, "DELETE", srv.URL+"/v1.0/directory/deletedItems/"+id, nil, nil), 404)
	if u["id"] != id || u["onPremisesImmutableId"] == oldAnchor || u["onPremisesSyncEnabled"] != true {
		t.Fatalf("nicki after the fix = %v", u)
	}
}

func TestGraphSyncSwitchAndImmutableID(t *testing.T) {
	srv := labServer(t, load(t, "healthy"), labhttp.ServerOptions{})
	var u map[string]any
	call(t, "GET", srv.URL+"/v1.0/users/user00001@contoso.com", nil, &u)
	id := u["id"].(string)
	var e odataErr
	wantStatus(t, call(t, "PATCH", srv.URL+"/v1.0/users/"+id, map[string]any{"onPremisesImmutableId": nil}, &e), 400)
	if !strings.Contains(e.Error.Message, "on-premises mastered") {
		t.Fatalf("refusal = %+v", e)
	}
	var orgs struct {
		Value []map[string]any `json:"value"`
	}
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/organization", nil, &orgs), 200)
	org := srv.URL + "/v1.0/organization/" + orgs.Value[0]["id"].(string)
	wantStatus(t, call(t, "PATCH", org, map[string]any{"onPremisesSyncEnabled": false}, nil), 204)
	wantStatus(t, call(t, "PATCH", org, map[string]any{"onPremisesSyncEnabled": true}, nil), 400)
	wantStatus(t, call(t, "POST", srv.URL+"/lab/sync", nil, nil), 409)
	wantStatus(t, call(t, "POST", srv.URL+"/lab/clock?advance=72h", nil, nil), 200)
	wantStatus(t, call(t, "PATCH", srv.URL+"/v1.0/users/"+id, map[string]any{"onPremisesImmutableId": nil}, nil), 204)
	wantStatus(t, call(t, "PATCH", org, map[string]any{"onPremisesSyncEnabled": true}, nil), 204)
	var o map[string]any
	call(t, "GET", org, nil, &o)
	if o["onPremisesSyncEnabled"] != true {
		t.Fatalf("organization = %v", o)
	}
}

type batchOut struct {
	Responses []struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

// cloudManaged turns the tenant's sync off and lets the switch-off
// complete: its users are then cloud-managed, and properties Connect
// masters for synced users (displayName) can be written.
func cloudManaged(t testing.TB, tn *lab.Tenant) *lab.Tenant {
	t.Helper()
	if err := tn.SetDirSyncEnabled(false); err != nil {
		t.Fatal(err)
	}
	if err := tn.Advance(time.Duration(tn.Config().SyncDisableDelay) + time.Hour); err != nil {
		t.Fatal(err)
	}
	return tn
}

func TestGraphBatch(t *testing.T) {
	srv := labServer(t, cloudManaged(t, load(t, "healthy")), labhttp.ServerOptions{})
	req := map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": "/users/user00001@contoso.com?$select=id,displayName"},
		{"id": "2", "method": "PATCH", "url": "/users/user00001@contoso.com", "dependsOn": []string{"1"},
			"headers": map[string]string{"Content-Type": "application/json"}, "body": map[string]any{"displayName": "Renamed"}},
		{"id": "3", "method": "GET", "url": "users/ghost@contoso.com"},
		{"id": "4", "method": "GET", "url": "/users/user00002@contoso.com", "dependsOn": []string{"3"}},
		{"id": "5", "method": "GET", "url": "/organization"},
	}}
	var out batchOut
	wantStatus(t, call(t, "POST", srv.URL+"/v1.0/$batch", req, &out), 200)
	got := map[string]int{}
	for _, r := range out.Responses {
		got[r.ID] = r.Status
	}
	if got["1"] != 200 || got["2"] != 204 || got["3"] != 404 || got["4"] != 424 || got["5"] != 200 {
		t.Fatalf("batch statuses = %v", got)
	}
	var u map[string]any
	call(t, "GET", srv.URL+"/v1.0/users/user00001@contoso.com", nil, &u)
	if u["displayName"] != "Renamed" {
		t.Fatalf("batched PATCH not applied: %v", u)
	}
	many := make([]map[string]any, 21)
	for i := range many {
		many[i] = map[string]any{"id": string(rune('a' + i)), "method": "GET", "url": "/organization"}
	}
	wantStatus(t, call(t, "POST", srv.URL+"/v1.0/$batch", map[string]any{"requests": many}, nil), 400)
}

// fakeClock is a wall clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func TestGraphThrottling(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	srv := labServer(t, cloudManaged(t, load(t, "healthy")), labhttp.ServerOptions{ReadUnits: 5, Clock: clk.Now})
	// Costs as "Identity and access service limits" tables them
	// (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits):
	// GET users (the collection) 2, less 1 for $select; GET users/{id},
	// not listed, 1, and never less than 1.
	u := srv.URL + "/v1.0/users/user00001@contoso.com"
	list := srv.URL + "/v1.0/users"
	for _, c := range []struct {
		url   string
		units string
	}{{list, "2"}, {list + "?$select=id", "1"}, {u + "?$select=id", "1"}, {u, "1"}} {
		resp := call(t, "GET", c.url, nil, nil)
		wantStatus(t, resp, 200)
		if got := resp.Header.Get("x-ms-resource-unit"); got != c.units {
			t.Fatalf("GET %s: x-ms-resource-unit %q, want %s", c.url, got, c.units)
		}
	} // 5 spent
	clk.Add(4 * time.Second)
	var e odataErr
	resp := call(t, "GET", u+"?$select=id", nil, &e)
	wantStatus(t, resp, 429)
	if resp.Header.Get("Retry-After") != "6" || e.Error.Code != "TooManyRequests" {
		t.Fatalf("429: Retry-After %q, body %+v", resp.Header.Get("Retry-After"), e)
	}
	// Batch items are throttled one by one.
	clk.Add(6 * time.Second)
	items := make([]map[string]any, 7)
	for i := range items {
		items[i] = map[string]any{"id": string(rune('a' + i)), "method": "GET", "url": "/organization"}
	}
	var out batchOut
	wantStatus(t, call(t, "POST", srv.URL+"/v1.0/$batch", map[string]any{"requests": items}, &out), 200)
	n429 := 0
	for _, r := range out.Responses {
		if r.Status == 429 {
			n429++
			if r.Headers["Retry-After"] == "" {
				t.Fatal("a throttled batch item has no Retry-After")
			}
		}
	}
	if n429 != 2 {
		t.Fatalf("%d of 7 batch items throttled, want 2", n429)
	}
	// Limits change at run time; writes have their own budget.
	clk.Add(150 * time.Second)
	var lim struct{ ReadUnits, WriteUnits int }
	wantStatus(t, call(t, "POST", srv.URL+"/lab/throttle", map[string]int{"readUnits": 100, "writeUnits": 1}, &lim), 200)
	if lim.ReadUnits != 100 || lim.WriteUnits != 1 {
		t.Fatalf("limits = %+v", lim)
	}
	body := map[string]any{"displayName": "x"}
	wantStatus(t, call(t, "PATCH", u, body, nil), 204)
	resp = call(t, "PATCH", u, body, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "150" {
		t.Fatalf("second write: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	wantStatus(t, call(t, "GET", u, nil, nil), 200)
}

func TestFaultInjection(t *testing.T) {
	srv := labServer(t, load(t, "healthy"), labhttp.ServerOptions{})
	wantStatus(t, call(t, "POST", srv.URL+"/lab/faults?503=1", nil, nil), 200)
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/organization", nil, nil), 503)
	wantStatus(t, call(t, "GET", srv.URL+"/lab/endpoints", nil, nil), 200) // the control API is never faulted
	wantStatus(t, call(t, "POST", srv.URL+"/lab/faults", labhttp.Faults{Drop: 1}, nil), 200)
	if resp, err := http.Get(srv.URL + "/v1.0/organization"); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped connection answered %d", resp.StatusCode)
	}
	wantStatus(t, call(t, "POST", srv.URL+"/lab/faults", labhttp.Faults{Throttle: 1}, nil), 200)
	resp := call(t, "GET", srv.URL+"/v1.0/organization", nil, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("injected 429: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	wantStatus(t, call(t, "POST", srv.URL+"/lab/faults", labhttp.Faults{}, nil), 200)
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/organization", nil, nil), 200)
}

func TestControlDumpIsAScenario(t *testing.T) {
	srv := labServer(t, load(t, "exchange-guid-in-use"), labhttp.ServerOptions{LDAPAddr: "127.0.0.1:3389"})
	var ep labhttp.Endpoints
	wantStatus(t, call(t, "GET", srv.URL+"/lab/endpoints", nil, &ep), 200)
	if ep.Graph != srv.URL+"/v1.0" || ep.LDAP != "127.0.0.1:3389" || !strings.HasSuffix(ep.Exchange, "/InvokeCommand") {
		t.Fatalf("endpoints = %+v", ep)
	}
	resp, err := http.Get(srv.URL + "/lab/dump")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	back, err := lab.Load(resp.Body)
	if err != nil {
		t.Fatalf("dump does not load as a scenario: %v", err)
	}
	if u, err := back.CloudUser("erin@contoso.com"); err != nil || len(u.ServiceProvisioningErrors) != 1 {
		t.Fatalf("reloaded erin = %+v, %v", u, err)
	}
}

func TestGraphPermanentDelete(t *testing.T) {
	tn := load(t, "rebuilt-ad")
	srv := labServer(t, tn, labhttp.ServerOptions{})
	var del userPage
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/directory/deletedItems/graph.user?$top=2", nil, &del), 200)
	if len(del.Value) != 2 || del.NextLink == "" {
		t.Fatalf("first page of deleted users = %+v", del)
	}
	id := del.Value[0]["id"].(string)
	wantStatus(t, call(t, "DELETE", srv.URL+"/v1.0/directory/deletedItems/"+id, nil, nil), 204)
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/directory/deletedItems/"+id, nil, nil), 404)
	wantStatus(t, call(t, "POST", srv.URL+"/v1.0/directory/deletedItems/"+id+"/restore", nil, nil), 404)
}

// TestControlScheduler: POST /lab/scheduler?syncCycleEnabled=false|true is
// Set-ADSyncScheduler -SyncCycleEnabled $false|$true, and GET
// /lab/scheduler answers as Get-ADSyncScheduler
// (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler):
// a held scheduler runs no cycle as the clock passes, a released one runs
// its next cycle an interval after the last (lab.TestScheduler has the
// model's side).
func TestControlScheduler(t *testing.T) {
	tn := load(t, "healthy")
	srv := labServer(t, tn, labhttp.ServerOptions{})
	var st lab.SchedulerStatus
	wantStatus(t, call(t, "POST", srv.URL+"/lab/scheduler?syncCycleEnabled=false", nil, &st), 200)
	if st.SyncCycleEnabled || st.NextSyncCycleStartTimeInUTC != nil || tn.Scheduler().SyncCycleEnabled {
		t.Fatalf("held scheduler answers %+v, reports %+v", st, tn.Scheduler())
	}
	before, _ := tn.LastSync()
	if err := tn.Advance(3 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if after, _ := tn.LastSync(); after.ID != before.ID {
		t.Fatalf("a held scheduler ran cycle %s", after.ID)
	}
	wantStatus(t, call(t, "POST", srv.URL+"/lab/scheduler?syncCycleEnabled=true", nil, &st), 200)
	if !st.SyncCycleEnabled || st.NextSyncCycleStartTimeInUTC == nil || !st.NextSyncCycleStartTimeInUTC.Equal(tn.Now()) {
		t.Fatalf("released scheduler answers %+v (now %s); want the overdue cycle due now", st, tn.Now())
	}
	var got lab.SchedulerStatus
	wantStatus(t, call(t, "GET", srv.URL+"/lab/scheduler", nil, &got), 200)
	if got.SyncCycleEnabled != st.SyncCycleEnabled || got.Interval != st.Interval || !got.NextSyncCycleStartTimeInUTC.Equal(*st.NextSyncCycleStartTimeInUTC) {
		t.Fatalf("GET /lab/scheduler = %+v, POST answered %+v", got, st)
	}
	wantStatus(t, call(t, "POST", srv.URL+"/lab/scheduler?syncCycleEnabled=maybe", nil, nil), 400)
}
