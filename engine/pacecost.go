package engine

import (
	"math"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// planCost works out what applying p will spend of each target's service,
// from the request costs the step types declare (steps.Costed), and how
// long that takes paced under each target's budget (steps.BudgetedTarget).
//
// Apply plans again before it writes (its drift check: every data block
// and every instance observed again, a fan-out in bulk where its type can),
// reads each data block once more for the run, and then observes and
// writes each instance that changes. An instance awaited until so, or
// whose arguments are decided at apply, is counted as one observation and
// one write, and counted in Open.
func (s *session) planCost(p *plan.Plan) (*plan.Cost, hcl.Diagnostics) {
	byAddr := map[string]*runbook.Step{}
	for _, d := range s.rb.Data {
		byAddr[d.Address()] = d
	}
	for _, st := range s.rb.Steps {
		byAddr[st.Address()] = st
	}
	costs := map[string]*plan.ServiceCost{}
	undeclared := map[string]bool{}
	for i := range p.Steps {
		ps := &p.Steps[i]
		st := byAddr[ps.Address]
		t := s.types[ps.Type]
		if st == nil || t == nil {
			continue
		}
		info := t.Info()
		if info.Target == "" {
			continue
		}
		key := s.targetKey(st, info)
		c, ok := t.(steps.Costed)
		if !ok || key == "" {
			undeclared[ps.Type] = true
			continue
		}
		rc := c.RequestCosts()
		sc := costs[key]
		if sc == nil {
			sc = &plan.ServiceCost{Service: rc.Service, Target: key}
			costs[key] = sc
		}
		var spend steps.Cost
		if ps.Mode == "data" {
			spend = rc.Observe.Times(2 * int64(ps.Len()))
		} else {
			spend = driftCheckCost(t, st, rc, ps.Len())
			for _, in := range ps.Instances {
				switch {
				case in.Action == plan.ActionNoOp || in.Action == string(steps.Read):
				case in.Action == plan.ActionDeferred || ps.Await != "":
					sc.Open++
					spend = spend.Add(rc.Observe).Add(rc.Apply)
				default:
					spend = spend.Add(rc.Observe).Add(rc.Apply)
				}
			}
		}
		sc.Requests += spend.Requests
		sc.Units += spend.Units
		sc.Writes += spend.Writes
	}
	var diags hcl.Diagnostics
	out := &plan.Cost{Services: []plan.ServiceCost{}}
	for _, t := range s.rb.Targets {
		key := t.Type + "." + t.Name
		sc := costs[key]
		if sc == nil {
			continue
		}
		if b, ok, err := s.targetBudget(key); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid target setting",
				Detail: err.Error(), Subject: t.DeclRange.Ptr()})
		} else if ok {
			sc.Budget = &plan.Budget{Tier: b.Tier, Units: b.Units, UnitWindowSeconds: int64(b.Window.Seconds()),
				Writes: b.Writes, WriteWindowSeconds: int64(b.WriteWindow.Seconds()), Source: b.Source}
			sc.Seconds = pacedSeconds(*sc, b)
		}
		out.Services = append(out.Services, *sc)
	}
	for typ := range undeclared {
		out.Undeclared = append(out.Undeclared, typ)
	}
	sort.Strings(out.Undeclared)
	if len(out.Services) == 0 && len(out.Undeclared) == 0 {
		// Nothing reaches a directory: the plan records no cost.
		return nil, diags
	}
	return out, diags
}

// driftCheckCost is what observing n instances of st again costs: in bulk
// when the type can and st fans out, one by one otherwise.
func driftCheckCost(t steps.DataSource, st *runbook.Step, rc steps.RequestCosts, n int) steps.Cost {
	if _, bulk := t.(steps.BulkObserver); bulk && rc.Bulk != nil && st.ForEach != nil && n > 0 {
		return rc.Bulk(n)
	}
	return rc.Observe.Times(int64(n))
}

// pacedSeconds is how long spending sc's units and writes takes under b
// at the pacer's pace (httpx.PaceShare of the budget, after the bucket's
// first httpx.BurstShare of a window), the slower of the two deciding; at
// least a second when anything is spent.
func pacedSeconds(sc plan.ServiceCost, b steps.Budget) int64 {
	secs := math.Max(pace(sc.Units, b.Units, b.Window.Seconds()), pace(sc.Writes, b.Writes, b.WriteWindow.Seconds()))
	if secs < 1 && (sc.Units > 0 || sc.Writes > 0) {
		return 1
	}
	return int64(math.Ceil(secs))
}

// pace is the seconds spending n takes under limit per window.
func pace(n, limit int64, window float64) float64 {
	if limit <= 0 || window <= 0 {
		return 0
	}
	burst := math.Max(1, math.Floor(httpx.BurstShare*float64(limit)))
	return math.Max(0, float64(n)-burst) / (httpx.PaceShare * float64(limit) / window)
}

// targetKey is the TYPE.NAME of the target st uses: its `target`, or the
// one target of the type its step type needs.
func (s *session) targetKey(st *runbook.Step, info steps.Info) string {
	if st.Target != nil {
		return strings.TrimPrefix(refAddr(st.Target), "target.")
	}
	for _, t := range s.rb.Targets {
		if t.Type == info.Target {
			return t.Type + "." + t.Name
		}
	}
	return ""
}

// targetBudget reads a target's budget from its settings, without opening
// it.
func (s *session) targetBudget(key string) (steps.Budget, bool, error) {
	ot := s.tgts[key]
	if ot == nil {
		return steps.Budget{}, false, nil
	}
	bt, ok := ot.typ.(steps.BudgetedTarget)
	if !ok {
		return steps.Budget{}, false, nil
	}
	// The target type's error names the target and the setting.
	return bt.Budget(steps.TargetConfig{Name: ot.decl.Name, Config: ot.config})
}

// checkBudgets reads every target's budget setting (entra's
// throttle_tier), so that validate refuses one the target type does not
// know before anything is contacted.
func (s *session) checkBudgets() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range s.rb.Targets {
		if _, _, err := s.targetBudget(t.Type + "." + t.Name); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid target setting",
				Detail: err.Error(), Subject: t.DeclRange.Ptr()})
		}
	}
	return diags
}
