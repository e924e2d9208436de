package engine

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
)

// openRun loads a run, claims it, and rebuilds its session from the plan
// it recorded; rp is its journal folded by instance.
func (e *Engine) openRun(ctx context.Context, runID string, in Inputs) (journal.Run, *session, *replay, func() error, hcl.Diagnostics) {
	noop := func() error { return nil }
	run, err := e.Store.Run(ctx, runID)
	if err != nil {
		return run, nil, nil, noop, hcl.Diagnostics{errDiag("No such run", err)}
	}
	release, err := e.Store.Claim(run.ID)
	if err != nil {
		return run, nil, nil, noop, hcl.Diagnostics{errDiag("Run in use", err)}
	}
	p, err := plan.Decode(run.Plan, "run "+run.ID)
	if err != nil {
		release()
		return run, nil, nil, noop, hcl.Diagnostics{errDiag("Cannot read the run's plan", err)}
	}
	if run.Dir != "" {
		e.WorkDir = run.Dir
	}
	rb, diags := planRunbook(p)
	if diags.HasErrors() {
		release()
		return run, nil, nil, noop, diags
	}
	s, diags := e.sessionFromPlan(p, rb, in)
	if diags.HasErrors() {
		release()
		return run, nil, nil, noop, diags
	}
	s.runID = run.ID
	rp, err := readJournal(ctx, e.Store, run.ID)
	if err != nil {
		release()
		return run, nil, nil, noop, append(diags, errDiag("Cannot read the journal", err))
	}
	return run, s, rp, release, diags
}

// decodePlanValue converts plan JSON back to a value of the given type
// (its implied type when the variable has no type constraint).
func decodePlanValue(v plan.Value, ty cty.Type) (cty.Value, error) {
	return plan.DecodeValue(v, ty)
}

// planRunbook loads the runbook a plan carries, after checking its sources
// against the digest the plan names: for a run's own plan, read back from
// the journal.
func planRunbook(p *plan.Plan) (*runbook.Runbook, hcl.Diagnostics) {
	src := make(map[string][]byte, len(p.Runbook.Sources))
	for k, v := range p.Runbook.Sources {
		src[k] = []byte(v)
	}
	if got := plan.SourcesDigest(src); got != p.Runbook.Digest {
		return nil, hcl.Diagnostics{errDiag("Plan does not match its runbook",
			fmt.Errorf("the runbook sources in the plan hash to %s, but the plan says %s", got, p.Runbook.Digest))}
	}
	return runbook.LoadSources(p.Runbook.Dir, src)
}

// sessionFromPlan resolves a plan's inputs, with secrets given again in
// `in`, for rb: the runbook the plan carries, already loaded from its
// sources (and checked against its digest) by approval.Check or
// approval.Consistent.
func (e *Engine) sessionFromPlan(p *plan.Plan, rb *runbook.Runbook, in Inputs) (*session, hcl.Diagnostics) {
	// Before anything is opened: the targets are the ones planned.
	if d := e.checkEnvironment(p); d.HasErrors() {
		return nil, d
	}
	var diags hcl.Diagnostics
	typed, d := planInputs(rb, p)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	for k, v := range in.Typed {
		typed[k] = v
	}
	in.Typed = typed
	dir := e.workDir()
	s, d := e.newSession(rb, in, dir)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	// The plan's values win over the environment and files for non-secret
	// inputs: what was reviewed is what runs.
	for name, v := range typed {
		got, _ := s.values[name].UnmarkDeep()
		want, _ := v.UnmarkDeep()
		if _, ok := p.Inputs[name]; ok && !got.RawEquals(want) {
			diags = append(diags, errDiag("Input differs from the plan",
				fmt.Errorf("the variable %q was planned as %s; apply cannot change a reviewed input", name, plan.EncodeValue(lang.Redact(v, false)))))
		}
	}
	return s, diags
}

// planInputs decodes a plan's inputs to the variables' types.
func planInputs(rb *runbook.Runbook, p *plan.Plan) (map[string]cty.Value, hcl.Diagnostics) {
	out := map[string]cty.Value{}
	var diags hcl.Diagnostics
	for _, v := range rb.Variables {
		raw, ok := p.Inputs[v.Name]
		if !ok {
			continue
		}
		val, err := decodePlanValue(raw, v.Type)
		if err != nil {
			diags = append(diags, errDiag("Invalid input in plan", fmt.Errorf("variable %q: %w", v.Name, err)))
			continue
		}
		out[v.Name] = val
	}
	return out, diags
}
