package entra_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// pacedFanOut sets the immutable ID of every user of the tenant from its
// object id, through a target paced under the small tenant's quota.
const pacedFanOut = `
runbook "paced" {
  title = "Anchor every cloud user"
}

target "entra" "tenant" {
  throttle_tier = "small"
}

data "entra_users" "all" {
  target = target.entra.tenant
}

step "entra_immutable_id" "anchor" {
  target       = target.entra.tenant
  for_each     = data.entra_users.all.by_upn
  upn          = each.key
  immutable_id = immutable_id(each.value.id)
}
`

// TestPlanStatesCostAndApplyKeepsIt plans a fan-out over 300 users that
// all change, against a lab at the small tier
// (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits:
// 3,500 resource units per 10 s, 3,000 writes per 150 s), and applies it.
// The plan states what apply spends of Graph and how long it takes paced;
// apply spends at most that (the bulk reads may list instead of filter),
// the writes exactly, takes about the time stated (the write quota binds:
// 300 writes at 95 % of 3,000 per 150 s after a first 60), and the lab
// answers no 429.
func TestPlanStatesCostAndApplyKeepsIt(t *testing.T) {
	const n = 300
	tn, err := lab.FromState(lab.State{Generate: []lab.Generator{{Count: n, Name: "cu%05d", Kind: "cloud"}}})
	if err != nil {
		t.Fatal(err)
	}
	l := serveBulkLab(t, tn)
	l.srv.SetLimits(labhttp.TierUnits["small"], 3000)
	e, p, _ := l.plan(t, pacedFanOut, nil)
	if p.Cost == nil || len(p.Cost.Services) != 1 {
		t.Fatalf("the plan's cost: %+v", p.Cost)
	}
	sc := p.Cost.Services[0]
	// The data block read twice (1 unit each: one page with $select);
	// the drift check's bulk read (300 ids, 15 to a filter: 20 filters and
	// one $count, 1 unit each); a read and a write per instance.
	if sc.Service != "graph" || sc.Target != "entra.tenant" || sc.Units != 2+21+2*n || sc.Writes != n || sc.Requests != 2+21+2*n {
		t.Fatalf("cost = %+v", sc)
	}
	if b := sc.Budget; b == nil || b.Tier != "small" || b.Units != 3500 || b.UnitWindowSeconds != 10 || b.Writes != 3000 || b.WriteWindowSeconds != 150 {
		t.Fatalf("budget = %+v", sc.Budget)
	}
	// (300 - 60) writes at 19 a second.
	if sc.Seconds != 13 {
		t.Fatalf("stated duration %d s, want 13", sc.Seconds)
	}
	var text bytes.Buffer
	if err := plan.RenderText(&text, p, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "Microsoft Graph (entra.tenant): at most 623 requests, 623 resource units, 300 writes; about 13s paced under the small tier, 3,500 units per 10s and 3,000 writes per 150s"; !strings.Contains(text.String(), want) {
		t.Fatalf("the text rendering does not say %q:\n%s", want, text.String())
	}

	unitsBefore, reqBefore := l.srv.GraphUnits(), l.requests()
	start := time.Now()
	rep, diags := e.Apply(context.Background(), p, engine.Inputs{}, engine.ApplyOptions{})
	elapsed := time.Since(start)
	if diags.HasErrors() || len(rep.Failures) > 0 || rep.Applied != n {
		t.Fatalf("apply: %v, failures %v, %d applied", diags, rep.Failures, rep.Applied)
	}
	units, requests := l.srv.GraphUnits()-unitsBefore, l.requests()-reqBefore
	throttled, _ := l.srv.GraphThrottled()
	t.Logf("apply: %d requests, %d units in %s (stated: at most %d, %d, about %d s); %d answered 429",
		requests, units, elapsed.Round(time.Millisecond), sc.Requests, sc.Units, sc.Seconds, throttled)
	if throttled != 0 {
		t.Errorf("the lab answered %d requests 429", throttled)
	}
	if units > sc.Units || float64(units) < 0.95*float64(sc.Units) || requests > sc.Requests {
		t.Errorf("apply spent %d units in %d requests; the plan stated at most %d units, %d requests", units, requests, sc.Units, sc.Requests)
	}
	if secs := elapsed.Seconds(); secs < 0.9*float64(sc.Seconds) || secs > 1.5*float64(sc.Seconds)+2 {
		t.Errorf("apply took %s; the plan stated about %d s", elapsed.Round(time.Millisecond), sc.Seconds)
	}
	// The journal's count of what the target's requests spent.
	recs, err := e.Store.Records(context.Background(), rep.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var pacing []engine.Pacing
	for _, r := range recs {
		var pc engine.Pacing
		if r.Kind == journal.KindNote && json.Unmarshal(r.Data, &pc) == nil && pc.Pacing != "" {
			pacing = append(pacing, pc)
		}
	}
	if len(pacing) != 1 || pacing[0].Pacing != "entra.tenant" || pacing[0].Throttled != 0 || pacing[0].Units != units || pacing[0].Writes != n {
		t.Errorf("the journal's pacing notes: %+v; want entra.tenant, %d units, %d writes, 0 throttled", pacing, units, n)
	}
}

// TestValidateRefusesAnUnknownThrottleTier: validate, which contacts
// nothing, names the file, the target and the setting.
func TestValidateRefusesAnUnknownThrottleTier(t *testing.T) {
	dir := t.TempDir()
	src := strings.Replace(pacedFanOut, `throttle_tier = "small"`, `throttle_tier = "huge"`, 1)
	rb, diags := runbook.LoadSources(dir, map[string][]byte{"main.hcl": []byte(src)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	diags = (&engine.Engine{WorkDir: dir}).Validate(rb)
	if !diags.HasErrors() {
		t.Fatal("validate accepted throttle_tier = \"huge\"")
	}
	msg := diags.Error()
	for _, want := range []string{"main.hcl:6", `target tenant: throttle_tier "huge" is not one of small, medium, large`} {
		if !strings.Contains(msg, want) {
			t.Errorf("validate says %q; want it to say %q", msg, want)
		}
	}
}
