package engine

import (
	"context"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/runbook"
)

// Validate checks a runbook without observing anything: step and target
// types exist, every argument decodes against its schema (with variables
// not given treated as unknown), references are in order.
func (e *Engine) Validate(rb *runbook.Runbook) hcl.Diagnostics {
	// Validation must not need the environment or secrets.
	s, diags := e.offline(func(string) string { return "" }).newSession(rb, unknownInputs(rb), e.workDir())
	if diags.HasErrors() {
		return diags
	}
	s.validating = true
	diags = append(diags, s.evalEarly(context.Background(), func(d *runbook.Step) hcl.Diagnostics {
		_, dd := s.decode(d, s.sc.ctx())
		s.sc.setData(d.Type, d.ScopeName(), cty.DynamicVal)
		return dd
	})...)
	if diags = append(diags, s.checkBudgets()...); diags.HasErrors() {
		return diags
	}
	for _, st := range s.rb.Steps {
		each := cty.NilVal
		if st.ForEach != nil {
			each = cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal})
		}
		_, d := s.decode(st, s.sc.child(each, cty.NilVal))
		diags = append(diags, d...)
		diags = append(diags, s.checkMeta(st)...)
		if st.ForEach != nil {
			if v, d := st.ForEach.Value(s.sc.ctx()); !d.HasErrors() && sensitiveKeys(v) {
				diags = append(diags, sensitiveForEach(st))
			}
		}
	}
	return s.secrets.scrubDiags(diags)
}

// unknownInputs gives the variables without a default an unknown value of
// their type, so that whatever depends on them is checked at plan; the
// others take their default.
func unknownInputs(rb *runbook.Runbook) Inputs {
	typed := map[string]cty.Value{}
	for _, v := range rb.Variables {
		if v.Default != cty.NilVal {
			continue
		}
		ty := v.Type
		if ty == cty.NilType {
			ty = cty.DynamicPseudoType
		}
		typed[v.Name] = cty.UnknownVal(ty)
	}
	return Inputs{Typed: typed}
}

// offline is a copy of e for a session that reads nothing (validate,
// doctor's target resolution): no journal, the given environment reader.
func (e *Engine) offline(getenv func(string) string) *Engine {
	return &Engine{Lab: e.Lab, Env: e.Env, Bind: e.Bind, Log: e.Log, Now: e.Now, WorkDir: e.WorkDir, Key: e.Key, Getenv: getenv}
}
