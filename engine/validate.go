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
	// Variables with a default take it; the others are unknown, so that
	// whatever depends on them is checked at plan.
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
	// Validation must not need the environment or secrets.
	e2 := &Engine{Lab: e.Lab, Env: e.Env, Bind: e.Bind, Log: e.Log, Now: e.Now, WorkDir: e.WorkDir, Key: e.Key,
		Getenv: func(string) string { return "" }}
	s, diags := e2.newSession(rb, Inputs{Typed: typed}, e.workDir())
	if diags.HasErrors() {
		return diags
	}
	s.validating = true
	diags = append(diags, s.evalEarly(context.Background(), func(d *runbook.Step) hcl.Diagnostics {
		_, dd := s.decode(d, s.sc.ctx())
		s.sc.setData(d.Type, d.Name, cty.DynamicVal)
		return dd
	})...)
	if diags.HasErrors() {
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
