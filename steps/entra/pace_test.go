package entra

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// TestRequestCostsAsDocumented holds requestCost to the table and rules of
// "Identity and access service limits"
// (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits).
func TestRequestCostsAsDocumented(t *testing.T) {
	for _, c := range []struct {
		method, path, query string
		units, writes       int
	}{
		{"GET", "users", "", 2, 0},                       // GET users: 2
		{"GET", "users", "$select=id", 1, 0},             // "$select decreases cost by 1"
		{"GET", "users", "$select=id&$top=5", 1, 0},      // never lower than 1
		{"GET", "users", "$expand=manager", 3, 0},        // "$expand increases cost by 1"
		{"GET", "users", "$top=10", 1, 0},                // "$top ... less than 20 decreases cost by 1"
		{"GET", "users", "$top=999", 2, 0},               // $top of 20 or more: no change
		{"GET", "users/0c3d1a2b", "", 1, 0},              // not listed: 1
		{"GET", "users/0c3d1a2b", "$select=id", 1, 0},    // never lower than 1
		{"PATCH", "users/0c3d1a2b", "", 1, 1},            // PATCH not listed: 1, write 1
		{"DELETE", "directory/deletedItems/x", "", 1, 1}, // DELETE not listed: 1, write 1
		{"POST", "directory/deletedItems/x/restore", "", 1, 1},
		{"GET", "subscribedSkus", "", 3, 0},                   // GET subscribedSkus: 3
		{"POST", "directoryObjects/getByIds", "", 3, 0},       // POST getByIds: 3, write 0
		{"GET", "users/alice@contoso.com/memberOf", "", 2, 0}, // me/memberOf applies to users/{id}/memberOf
		{"GET", "organization", "", 1, 0},
	} {
		q, _ := url.ParseQuery(c.query)
		u, w := requestCost(c.method, c.path, q)
		if u != c.units || w != c.writes {
			t.Errorf("%s %s?%s costs %d units, %d writes; want %d, %d", c.method, c.path, c.query, u, w, c.units, c.writes)
		}
	}
	// A JSON batch costs what its requests cost.
	body := `{"requests":[{"id":"1","method":"PATCH","url":"/users/a"},{"id":"2","method":"GET","url":"/users?$select=id&$filter=id in ('a')"},{"id":"3","method":"GET","url":"/subscribedSkus"}]}`
	req, _ := http.NewRequest("POST", "https://graph.microsoft.com/v1.0/$batch", bytes.NewReader([]byte(body)))
	if u, w := httpCost(req); u != 5 || w != 1 {
		t.Errorf("the batch costs %d units, %d writes; want 5, 1", u, w)
	}
}

// TestThrottleTierSetting reads throttle_tier: small by default, the
// documented quotas by name, none unpaced, anything else refused naming
// the target and the setting.
func TestThrottleTierSetting(t *testing.T) {
	cfg := func(tier string) steps.TargetConfig {
		v := cty.NullVal(cty.String)
		if tier != "" {
			v = cty.StringVal(tier)
		}
		return steps.TargetConfig{Name: "tenant", Config: cty.ObjectVal(map[string]cty.Value{"throttle_tier": v})}
	}
	for tier, units := range map[string]int64{"": 3500, "small": 3500, "medium": 5000, "large": 8000} {
		b, ok, err := targetType{}.Budget(cfg(tier))
		if err != nil || !ok || b.Units != units || b.Window != 10*time.Second || b.Writes != 3000 || b.WriteWindow != 150*time.Second {
			t.Errorf("throttle_tier %q: %+v %v %v", tier, b, ok, err)
		}
	}
	if _, ok, err := (targetType{}).Budget(cfg("none")); ok || err != nil {
		t.Errorf("throttle_tier none: ok %v, err %v; want no budget", ok, err)
	}
	_, _, err := targetType{}.Budget(cfg("huge"))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`target tenant: throttle_tier "huge"`)) {
		t.Errorf("throttle_tier huge: %v", err)
	}
}

// TestPacedFanOutStaysUnderTheBudget runs 300 instances of
// entra_immutable_id as the engine runs a fan-out (24 workers, each
// observing its user and then writing it through the shared $batch)
// against a lab throttled at 500 resource units per 10 s, the client
// paced under the same budget. The lab answers no 429, the client reaches
// 80-100 % of the budget, every user is written, and the units the client
// counted are the units the lab charged.
func TestPacedFanOutStaysUnderTheBudget(t *testing.T) {
	const n, units = 300, 500
	tn, ls, srv, _ := cloudTenant(t, n, labhttp.ServerOptions{ReadUnits: units, WriteUnits: 3000})
	c := openLab(t, srv.URL, map[string]any{"throttle_tier": "small"})
	ctx := context.Background()
	list, err := c.listUsers(ctx, "", false, 0)
	if err != nil || len(list) != n {
		t.Fatalf("list: %d users, %v", len(list), err)
	}
	// The listing cost one unit (one page with $select); pace the rest
	// under the lab's budget.
	c.pacer.SetBudget(steps.Budget{Service: steps.ServiceGraph, Units: units, Window: 10 * time.Second, Writes: 3000, WriteWindow: 150 * time.Second})
	unitsBefore, statsBefore := ls.GraphUnits(), c.PacerStats()
	typ := steptest.Step(t, "entra_immutable_id")
	var failed atomic.Int64
	sem := make(chan struct{}, 24)
	var wg sync.WaitGroup
	start := time.Now()
	for i, u := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, u user) {
			defer func() { <-sem; wg.Done() }()
			_, call := newCall(t, "entra_immutable_id", c, map[string]any{"id": u.ID, "immutable_id": anchorFor(i, 1)}, true)
			obs, err := typ.Observe(ctx, call)
			var ch steps.Change
			if err == nil {
				ch, err = typ.Diff(ctx, call, obs)
			}
			if err == nil {
				_, err = typ.Apply(ctx, call, ch)
			}
			if err != nil {
				failed.Add(1)
				t.Error(err)
			}
		}(i, u)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() > 0 {
		t.Fatalf("%d of %d instances failed", failed.Load(), n)
	}
	for i, u := range list {
		if got, _ := tn.CloudUser(u.ID); got.OnPremisesImmutableID != anchorFor(i, 1) {
			t.Fatalf("user %d: immutable ID %q", i, got.OnPremisesImmutableID)
		}
	}
	if throttled, _ := ls.GraphThrottled(); throttled != 0 {
		t.Errorf("the lab answered %d requests 429", throttled)
	}
	st := c.PacerStats()
	if st.Throttled != statsBefore.Throttled {
		t.Errorf("the client saw %d answers asking to wait", st.Throttled-statsBefore.Throttled)
	}
	charged := ls.GraphUnits() - unitsBefore
	if spent := st.Units - statsBefore.Units; spent != charged {
		t.Errorf("the client counted %d units, the lab charged %d", spent, charged)
	}
	if charged != 2*n {
		t.Errorf("the lab charged %d units, want %d (a read and a write per instance)", charged, 2*n)
	}
	rate := float64(charged) / elapsed.Seconds()
	share := rate / (units / 10)
	t.Logf("%d instances, %d units in %s: %.1f units/s, %.0f%% of the budget of %d per 10 s", n, charged, elapsed.Round(time.Millisecond), rate, 100*share, units)
	if share < 0.8 || share > 1.0 {
		t.Errorf("%.0f%% of the budget, want 80-100%%", 100*share)
	}
}

// labClock is a clock a test moves by hand, for the lab's throttling
// windows.
type labClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *labClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *labClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestBatchItemRetryAfterPausesTheTarget: items of a JSON batch answered
// 429 (which the transport does not see: the batch itself is 200) pause
// the target's whole bucket for their Retry-After, so that a request
// another worker sends meanwhile waits too; the items are then sent again
// and succeed.
func TestBatchItemRetryAfterPausesTheTarget(t *testing.T) {
	clk := &labClock{now: time.Unix(1_700_000_000, 0)}
	_, _, srv, _ := cloudTenant(t, 8, labhttp.ServerOptions{ReadUnits: 5, Clock: clk.Now})
	c := openLab(t, srv.URL, map[string]any{"throttle_tier": "small"})
	ctx := context.Background()
	list, err := c.listUsers(ctx, "", false, 0) // 1 unit: the window starts
	if err != nil || len(list) != 8 {
		t.Fatalf("list: %d users, %v", len(list), err)
	}
	clk.Add(9 * time.Second) // 4 units left, and 1 s of the window
	errs := make(chan error, len(list))
	for i, u := range list {
		go func() {
			v := anchorFor(i, 1)
			errs <- c.setImmutableID(ctx, u.ID, &v)
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.PacerStats().Throttled == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no batch item was throttled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	throttledAt := time.Now()
	clk.Add(2 * time.Second) // the lab's window is over
	if _, err := c.activeUser(ctx, selector{ID: list[0].ID}); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(throttledAt); waited < 800*time.Millisecond {
		t.Fatalf("a read sent after a batch item's Retry-After of 1 s left after %s", waited)
	}
	for range list {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, _, retried := c.batch.stats(); retried == 0 {
		t.Fatal("no batch item was sent again")
	}
}
