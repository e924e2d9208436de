package labhttp_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/lab/labhttp"
)

// TestThrottleTiers sets the resource unit quota by tenant size, as
// "Identity and access service limits" names them (S 3,500, M 5,000, L
// 8,000 per 10 s, https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits),
// and counts the 429s the throttle answers in GET /lab/requests.
func TestThrottleTiers(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	srv := labServer(t, cloudManaged(t, load(t, "healthy")), labhttp.ServerOptions{Clock: clk.Now})
	var lim struct {
		ReadUnits, WriteUnits int
		Tier                  string
	}
	// readUnits 0 goes by the tenant's size: healthy has fewer than 50
	// users, the small tenant's quota.
	wantStatus(t, call(t, "POST", srv.URL+"/lab/throttle", map[string]int{"readUnits": 0}, &lim), 200)
	if lim.ReadUnits != 3500 || lim.Tier != "small" || lim.WriteUnits != 3000 {
		t.Fatalf("default limits = %+v, want 3500 units (small) and 3000 writes", lim)
	}
	for tier, units := range map[string]int{"large": 8000, "medium": 5000, "small": 3500} {
		wantStatus(t, call(t, "POST", srv.URL+"/lab/throttle", map[string]string{"tier": tier}, &lim), 200)
		if lim.ReadUnits != units || lim.Tier != tier {
			t.Fatalf("tier %s: limits = %+v, want %d units", tier, lim, units)
		}
	}
	wantStatus(t, call(t, "POST", srv.URL+"/lab/throttle", map[string]string{"tier": "huge"}, nil), 400)

	wantStatus(t, call(t, "POST", srv.URL+"/lab/throttle", map[string]int{"readUnits": 2}, nil), 200)
	var counts struct{ Graph, Throttled int }
	u := srv.URL + "/v1.0/users/user00001@contoso.com?$select=id"
	wantStatus(t, call(t, "GET", u, nil, nil), 200)
	wantStatus(t, call(t, "GET", u, nil, nil), 200)
	wantStatus(t, call(t, "GET", u, nil, nil), 429)
	wantStatus(t, call(t, "GET", srv.URL+"/lab/requests", nil, &counts), 200)
	if counts.Graph != 3 || counts.Throttled != 1 {
		t.Fatalf("GET /lab/requests = %+v, want 3 requests, 1 throttled", counts)
	}
	// An injected 429 is a fault, not the throttle's answer.
	clk.Add(10 * time.Second)
	wantStatus(t, call(t, "POST", srv.URL+"/lab/faults", labhttp.Faults{Throttle: 1}, nil), 200)
	wantStatus(t, call(t, "GET", u, nil, nil), 429)
	wantStatus(t, call(t, "GET", srv.URL+"/lab/requests", nil, &counts), 200)
	if counts.Throttled != 1 {
		t.Fatalf("throttled = %d after an injected 429, want 1", counts.Throttled)
	}
}

// TestRequestsCountWrites counts in GET /lab/requests the writes the
// throttle let through, each item of a $batch on its own, and not the
// reads nor the writes it refused: what a benchmark reads to show that
// apply wrote each object once.
func TestRequestsCountWrites(t *testing.T) {
	srv := labServer(t, cloudManaged(t, load(t, "healthy")), labhttp.ServerOptions{})
	var counts struct{ Graph, Writes, Units int }
	user := func(n int) string { return fmt.Sprintf("/users/user%05d@contoso.com", n) }
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0"+user(1)+"?$select=id", nil, nil), 200)
	wantStatus(t, call(t, "PATCH", srv.URL+"/v1.0"+user(1), map[string]string{"displayName": "Renamed"}, nil), 204)
	batch := map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "PATCH", "url": user(2), "headers": map[string]string{"Content-Type": "application/json"}, "body": map[string]string{"displayName": "Renamed"}},
		{"id": "2", "method": "PATCH", "url": user(3), "headers": map[string]string{"Content-Type": "application/json"}, "body": map[string]string{"displayName": "Renamed"}},
		{"id": "3", "method": "GET", "url": user(4) + "?$select=id"},
	}}
	wantStatus(t, call(t, "POST", srv.URL+"/v1.0/$batch", batch, nil), 200)
	wantStatus(t, call(t, "GET", srv.URL+"/lab/requests", nil, &counts), 200)
	if counts.Writes != 3 || counts.Graph != 3 {
		t.Fatalf("GET /lab/requests = %+v, want 3 requests and 3 writes", counts)
	}
	// A write the write quota refuses is not counted.
	wantStatus(t, call(t, "POST", srv.URL+"/lab/throttle", map[string]int{"readUnits": 0, "writeUnits": 3}, nil), 200)
	wantStatus(t, call(t, "PATCH", srv.URL+"/v1.0"+user(5), map[string]string{"displayName": "Renamed"}, nil), 429)
	wantStatus(t, call(t, "GET", srv.URL+"/lab/requests", nil, &counts), 200)
	if counts.Writes != 3 {
		t.Fatalf("writes = %d after a refused write, want 3", counts.Writes)
	}
}
