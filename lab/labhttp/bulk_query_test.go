package labhttp_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// inFilter builds `property in ('a','b',...)`.
func inFilter(property string, vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return property + " in (" + strings.Join(q, ",") + ")"
}

// TestUsersFilterIn: `in` on id and userPrincipalName (the user resource
// lists it among both properties' $filter operators,
// https://learn.microsoft.com/graph/api/resources/user#properties) selects
// exactly the users named, UPNs ignoring case; a 16th value is refused
// outside an advanced query ("The maximum number of expressions in a filter
// clause when using the in operator is 15 items by default",
// https://learn.microsoft.com/graph/filter-query-parameter), and taken with
// ConsistencyLevel: eventual and $count=true.
func TestUsersFilterIn(t *testing.T) {
	tn := load(t, "healthy")
	srv := labServer(t, tn, labhttp.ServerOptions{})
	all, _ := tn.CloudUsers(lab.CloudQuery{})
	if len(all) < 3 {
		t.Fatalf("the healthy scenario has %d users", len(all))
	}
	type page struct {
		Value []struct {
			ID  string `json:"id"`
			UPN string `json:"userPrincipalName"`
		} `json:"value"`
	}
	get := func(filter string) (page, *http.Response) {
		var p page
		resp := call(t, "GET", srv.URL+"/v1.0/users?$select=id,userPrincipalName&$filter="+url.QueryEscape(filter), nil, &p)
		return p, resp
	}
	ids := []string{all[0].ID, all[2].ID, "00000000-0000-0000-0000-000000000000"}
	p, resp := get(inFilter("id", ids))
	wantStatus(t, resp, 200)
	if len(p.Value) != 2 || p.Value[0].ID != all[0].ID || p.Value[1].ID != all[2].ID {
		t.Fatalf("id in %v: %+v", ids, p.Value)
	}
	upns := []string{strings.ToUpper(all[1].UserPrincipalName), "nobody@contoso.com"}
	p, resp = get(inFilter("userPrincipalName", upns))
	wantStatus(t, resp, 200)
	if len(p.Value) != 1 || p.Value[0].ID != all[1].ID {
		t.Fatalf("userPrincipalName in %v: %+v", upns, p.Value)
	}

	var sixteen []string
	for i := range 16 {
		sixteen = append(sixteen, fmt.Sprintf("u%d@contoso.com", i))
	}
	var e odataErr
	resp = call(t, "GET", srv.URL+"/v1.0/users?$filter="+url.QueryEscape(inFilter("userPrincipalName", sixteen)), nil, &e)
	wantStatus(t, resp, 400)
	if !strings.Contains(e.Error.Message, "Max allowed: 15") {
		t.Fatalf("16 values: %+v", e)
	}
	fifteen := append([]string{all[0].UserPrincipalName}, sixteen[:14]...)
	p, resp = get(inFilter("userPrincipalName", fifteen))
	wantStatus(t, resp, 200)
	if len(p.Value) != 1 {
		t.Fatalf("15 values: %+v", p.Value)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/v1.0/users?$count=true&$filter="+url.QueryEscape(inFilter("userPrincipalName", append(sixteen, all[0].UserPrincipalName))), nil)
	req.Header.Set("ConsistencyLevel", "eventual")
	adv, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	adv.Body.Close()
	if adv.StatusCode != 200 {
		t.Fatalf("17 values in an advanced query: %s", adv.Status)
	}

	for _, bad := range []string{"id in ('a',)", "id in ('a' 'b')", "id in (a)", "id in ('a'", "mail in ('a')"} {
		resp = call(t, "GET", srv.URL+"/v1.0/users?$filter="+url.QueryEscape(bad), nil, &e)
		wantStatus(t, resp, 400)
	}
}

// TestUsersCount: GET /users/$count answers the number of users as text
// with ConsistencyLevel: eventual (List users, "Get only a count of users",
// https://learn.microsoft.com/graph/api/user-list), and 400
// Request_BadRequest "$count is not currently supported." without it
// (https://learn.microsoft.com/graph/aad-advanced-queries#error-handling-for-advanced-queries-on-directory-objects).
func TestUsersCount(t *testing.T) {
	tn := load(t, "restore-mistake")
	srv := labServer(t, tn, labhttp.ServerOptions{})
	var e odataErr
	resp := call(t, "GET", srv.URL+"/v1.0/users/$count", nil, &e)
	wantStatus(t, resp, 400)
	if e.Error.Code != "Request_BadRequest" || e.Error.Message != "$count is not currently supported." {
		t.Fatalf("without ConsistencyLevel: %+v", e)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/v1.0/users/$count", nil)
	req.Header.Set("ConsistencyLevel", "eventual")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	active, _ := tn.CloudUsers(lab.CloudQuery{})
	deleted, _ := tn.CloudUsers(lab.CloudQuery{Deleted: true})
	if len(deleted) == 0 {
		t.Fatal("the scenario should hold a deleted user, which the count leaves out")
	}
	if r.StatusCode != 200 || string(b) != fmt.Sprint(len(active)) || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("count: %s %q (%s), want %d", r.Status, b, r.Header.Get("Content-Type"), len(active))
	}
}

// TestGraphRequestCounter: the lab counts each Graph request once, a
// $batch included, and GET /lab/requests reports the count.
func TestGraphRequestCounter(t *testing.T) {
	tn := load(t, "healthy")
	ls := labhttp.NewServer(tn, labhttp.ServerOptions{Anonymous: true, ReadUnits: 1 << 30})
	srv := labServerHandler(t, ls)
	before, _ := ls.GraphRequests()
	call(t, "GET", srv.URL+"/v1.0/users?$top=1", nil, nil)
	call(t, "POST", srv.URL+"/v1.0/$batch", map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": "/users?$top=1"},
		{"id": "2", "method": "GET", "url": "/organization"},
	}}, nil)
	after, _ := ls.GraphRequests()
	if after-before != 2 {
		t.Fatalf("counted %d requests, want 2 (one GET, one $batch)", after-before)
	}
	var got struct {
		Graph int64 `json:"graph"`
	}
	call(t, "GET", srv.URL+"/lab/requests", nil, &got)
	if got.Graph != after {
		t.Fatalf("GET /lab/requests: %d, want %d", got.Graph, after)
	}
}

// labServerHandler serves ls on a loopback listener.
func labServerHandler(t testing.TB, ls *labhttp.Server) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(ls)
	t.Cleanup(srv.Close)
	return srv
}

// TestUsersPagingAt999: a listing with $select and $top=999 (the most a
// page of users holds, DOMAIN.md; $top=1000 is refused) pages through
// 2,000 users with @odata.nextLink, each user once, and the last page has
// no nextLink ("Paging Microsoft Graph data in your app",
// https://learn.microsoft.com/graph/paging: follow @odata.nextLink until
// there is none).
func TestUsersPagingAt999(t *testing.T) {
	tn, err := lab.FromState(lab.State{Generate: []lab.Generator{{Count: 2000, Name: "page%05d", Kind: "cloud"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := labServer(t, tn, labhttp.ServerOptions{})
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/users?$top=1000", nil, nil), 400)
	seen := map[string]bool{}
	var sizes []int
	next := srv.URL + "/v1.0/users?$select=id,userPrincipalName&$top=999"
	for next != "" {
		var p struct {
			Next  string `json:"@odata.nextLink"`
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
		}
		wantStatus(t, call(t, "GET", next, nil, &p), 200)
		sizes = append(sizes, len(p.Value))
		for _, u := range p.Value {
			if seen[u.ID] {
				t.Fatalf("user %s listed twice", u.ID)
			}
			seen[u.ID] = true
		}
		next = p.Next
	}
	if len(seen) != 2000 || fmt.Sprint(sizes) != "[999 999 2]" {
		t.Fatalf("%d users in pages %v, want 2000 in [999 999 2]", len(seen), sizes)
	}
}

// BenchmarkGraphPage100k loads the 100,000-user scenario and pages through
// GET /v1.0/users?$top=999 over a loopback listener, following
// @odata.nextLink to the end. It reports the pages per listing and the
// heap the loaded tenant keeps.
func BenchmarkGraphPage100k(b *testing.B) {
	tn := load(b, "healthy-100k")
	srv := labServer(b, tn, labhttp.ServerOptions{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next, users, pages := srv.URL+"/v1.0/users?$top=999", 0, 0
		for next != "" {
			resp, err := http.Get(next)
			if err != nil {
				b.Fatal(err)
			}
			var p struct {
				Value    []json.RawMessage `json:"value"`
				NextLink string            `json:"@odata.nextLink"`
			}
			err = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("page %d: %d %v", pages, resp.StatusCode, err)
			}
			users, pages, next = users+len(p.Value), pages+1, p.NextLink
		}
		if users != 100000 {
			b.Fatalf("listed %d users, want 100000", users)
		}
		b.ReportMetric(float64(pages), "pages")
	}
	b.StopTimer()
	b.ReportMetric(heapMB(), "heap-MB")
}

// heapMB returns the live heap after a collection, in MB.
func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}
