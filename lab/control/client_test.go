package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// TestLabClient drives a lab through the one client of its control API:
// endpoints, clock, scheduler, cycles and the refusal of a cycle while
// the tenant's sync is off.
func TestLabClient(t *testing.T) {
	tn, srv := healthyLab(t, labhttp.ServerOptions{Anonymous: true})
	l, err := control.Dial(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	ep, err := l.Endpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Graph != srv.URL+"/v1.0" || ep.Tenant != tn.Config().TenantDomain {
		t.Errorf("endpoints: graph %q tenant %q, want %q and %q", ep.Graph, ep.Tenant, srv.URL+"/v1.0", tn.Config().TenantDomain)
	}

	before := tn.Now()
	body, err := l.Advance(ctx, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var clock struct{ Now time.Time }
	if err := json.Unmarshal(body, &clock); err != nil || !clock.Now.Equal(before.Add(72*time.Hour)) || !tn.Now().Equal(clock.Now) {
		t.Errorf("advance 72h from %s answered %s (%v); the tenant says %s", before, body, err, tn.Now())
	}

	for _, on := range []bool{false, true} {
		got, err := l.SetScheduler(ctx, on)
		if err != nil || got != on {
			t.Fatalf("SetScheduler(%v) = %v, %v", on, got, err)
		}
		if got, err := l.Scheduler(ctx); err != nil || got != on {
			t.Fatalf("Scheduler() = %v, %v after setting %v", got, err, on)
		}
	}

	res, _, err := l.Sync(ctx, "Delta")
	if err != nil || res.Policy != "Delta" || res.Status == "" {
		t.Fatalf("Sync(Delta) = %+v, %v", res, err)
	}
	if err := tn.SetDirSyncEnabled(false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Sync(ctx, "Delta"); !errors.Is(err, control.ErrSyncOff) {
		t.Fatalf("Sync with the tenant's sync off: %v, want ErrSyncOff", err)
	}

	dump, err := l.Dump(ctx)
	if err != nil || !json.Valid(dump) {
		t.Fatalf("Dump: %d bytes, %v", len(dump), err)
	}
}

// DelegatedToken mints, through POST /lab/token, a token the lab's Graph
// accepts with the delegated permission asked for; a request the lab
// refuses (no permissions) is an error quoting its answer.
func TestDelegatedToken(t *testing.T) {
	tn, srv := healthyLab(t, labhttp.ServerOptions{})
	l := control.New(srv.URL, srv.Client())
	ctx := context.Background()
	users := func(token string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1.0/users", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tok, err := l.DelegatedToken(ctx, control.DelegatedTokenRequest{User: "helpdesk@" + tn.Config().TenantDomain, Scp: "User.Read.All"})
	if err != nil {
		t.Fatal(err)
	}
	if code := users(tok); code != http.StatusOK {
		t.Errorf("GET /v1.0/users with the minted token: %d, want 200", code)
	}
	if code := users(""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1.0/users without a token: %d, want 401", code)
	}
	if _, err := l.DelegatedToken(ctx, control.DelegatedTokenRequest{User: "helpdesk@" + tn.Config().TenantDomain}); err == nil || !strings.Contains(err.Error(), "/lab/token") || !strings.Contains(err.Error(), "400") {
		t.Errorf("a token without permissions: %v, want the lab's 400 for /lab/token", err)
	}
}

// healthyLab serves the healthy scenario over plain HTTP until the test
// ends.
func healthyLab(t *testing.T, opts labhttp.ServerOptions) (*lab.Tenant, *httptest.Server) {
	t.Helper()
	tn, err := lab.LoadScenario(lab.ScenarioFiles, "healthy")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(labhttp.NewServer(tn, opts))
	t.Cleanup(srv.Close)
	return tn, srv
}
