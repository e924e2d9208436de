package runbook

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// stepMetaSchema lists the meta-arguments the engine takes out of a step or
// data block; everything else stays in Step.Config for the step type.
var stepMetaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "target"},
		{Name: "for_each"},
		{Name: "max_concurrency"},
		{Name: "max_errors"},
		{Name: "depends_on"},
		{Name: "timeout"},
		{Name: "await"},
		{Name: "on_failure"},
		{Name: "optional"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "retry"},
		{Type: "precondition"},
		{Type: "postcondition"},
	},
}

// dataOnlyMeta are the meta-arguments a data block accepts (every meta
// block is among them). A data block is
// one read; fanning it out, awaiting it or choosing what a failure does are
// step matters. (for_each on data could be parsed as easily as on a step,
// but the engine evaluates data blocks once, before the steps.)
var dataOnlyMeta = map[string]bool{
	"target": true, "depends_on": true, "timeout": true, "optional": true,
	"retry": true, "precondition": true, "postcondition": true,
}

var retrySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "attempts", Required: true},
		{Name: "backoff"},
	},
}

var checkSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

// decodeStep reads a step or data block. Its Config is the body PartialContent
// leaves: decode it with Content, PartialContent or hcldec, which skip the
// meta-arguments taken out here. (hclsyntax's JustAttributes would still see
// the retry and condition blocks.)
func (d *decoder) decodeStep(b *hcl.Block) hcl.Diagnostics {
	s := &Step{
		Mode:      StepMode,
		Type:      b.Labels[0],
		Name:      b.Labels[1],
		DeclRange: b.DefRange,
		TypeRange: b.LabelRanges[0],
	}
	kind := "step"
	if b.Type == "data" {
		s.Mode = DataMode
		kind = "data block"
	}
	diags := checkName(s.Type, kind+" type", b.LabelRanges[0])
	diags = append(diags, checkName(s.Name, kind+" name", b.LabelRanges[1])...)
	diags = append(diags, d.declare(s.Address(), fmt.Sprintf("Duplicate %s %q %q", kind, s.Type, s.Name), b.DefRange)...)
	if s.Mode == DataMode {
		d.rb.Data = append(d.rb.Data, s)
	} else {
		d.rb.Steps = append(d.rb.Steps, s)
	}

	content, remain, cDiags := b.Body.PartialContent(stepMetaSchema)
	diags = append(diags, cDiags...)
	s.Config = remain

	if s.Mode == DataMode {
		for _, a := range content.Attributes {
			if !dataOnlyMeta[a.Name] {
				diags = append(diags, notForData(a.Name, a.NameRange))
			}
		}
	}

	attrs := content.Attributes
	if a, ok := attrs["target"]; ok {
		t, tDiags := targetTraversal(a.Expr)
		diags = append(diags, tDiags...)
		s.Target = t
	}
	// These arguments are kept as expressions, evaluated at plan or apply.
	for name, expr := range map[string]*hcl.Expression{
		"for_each": &s.ForEach, "max_concurrency": &s.MaxConcurrency, "max_errors": &s.MaxErrors,
		"timeout": &s.Timeout, "await": &s.Await,
	} {
		if a, ok := attrs[name]; ok {
			*expr = a.Expr
		}
	}
	if s.ForEach == nil && s.Mode == StepMode {
		for _, name := range []string{"max_concurrency", "max_errors"} {
			if a, ok := attrs[name]; ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Fan-out setting without for_each",
					Detail:   fmt.Sprintf("The %s argument limits a fan-out, but %s has no for_each.", name, s.Address()),
					Subject:  a.NameRange.Ptr(),
				})
			}
		}
	}
	if a, ok := attrs["depends_on"]; ok {
		deps, dDiags := dependsOn(a.Expr)
		diags = append(diags, dDiags...)
		s.DependsOn = deps
	}
	if a, ok := attrs["optional"]; ok {
		if s.Mode != DataMode {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid step argument",
				Detail:   fmt.Sprintf("%s cannot be optional: optional = true lets a data block find nothing (its value is then null); a step's object is what the step makes so.", s.Address()),
				Subject:  a.NameRange.Ptr(),
			})
		} else {
			opt, oDiags := optionalFlag(a.Expr)
			diags = append(diags, oDiags...)
			s.Optional = opt
		}
	}
	if a, ok := attrs["on_failure"]; ok {
		s.OnFailureRange = a.Expr.Range()
		of, oDiags := onFailure(a.Expr)
		diags = append(diags, oDiags...)
		s.OnFailure = of
	}

	for _, blk := range content.Blocks {
		switch blk.Type {
		case "retry":
			if s.Retry != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate retry block",
					Detail:   fmt.Sprintf("%s already has a retry block at %s; it may have only one.", s.Address(), s.Retry.DeclRange),
					Subject:  blk.DefRange.Ptr(),
				})
				continue
			}
			r, rDiags := decodeRetry(blk)
			diags = append(diags, rDiags...)
			s.Retry = r
		case "precondition", "postcondition":
			c, cDiags := decodeCheck(blk)
			diags = append(diags, cDiags...)
			if c == nil {
				continue
			}
			diags = append(diags, checkRefersToSomething(c, blk.Type)...)
			if blk.Type == "precondition" {
				s.Preconditions = append(s.Preconditions, c)
			} else {
				s.Postconditions = append(s.Postconditions, c)
			}
		}
	}
	return diags
}

func notForData(name string, rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid data block argument",
		Detail: fmt.Sprintf("A data block cannot have %s. Data blocks accept target, depends_on, timeout, optional, retry, precondition and postcondition; %s belongs on a step.",
			name, name),
		Subject: rng.Ptr(),
	}
}

// targetTraversal reads `target = target.TYPE.NAME`.
func targetTraversal(expr hcl.Expression) (hcl.Traversal, hcl.Diagnostics) {
	t, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || t.RootName() != "target" || len(t) != 3 || !allAttrs(t) {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid target reference",
			Detail:   "The target argument must be a reference to a target block, such as target.entra.tenant.",
			Subject:  expr.Range().Ptr(),
		}}
	}
	return t, nil
}

// dependsOn reads `depends_on = [step.T.N, data.T.N]`. Existence and order
// are checked once every file is read.
func dependsOn(expr hcl.Expression) ([]hcl.Traversal, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(expr)
	if diags.HasErrors() {
		return nil, diags
	}
	var out []hcl.Traversal
	for _, e := range exprs {
		t, tDiags := hcl.AbsTraversalForExpr(e)
		if tDiags.HasErrors() || len(t) < 3 || (t.RootName() != "step" && t.RootName() != "data") || !allAttrs(t[:3]) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid depends_on reference",
				Detail:   "Each depends_on entry must name a step or a data block, such as step.entra_user.bound or data.ad_user.new.",
				Subject:  e.Range().Ptr(),
			})
			continue
		}
		out = append(out, t[:3])
	}
	return out, diags
}

func allAttrs(t hcl.Traversal) bool {
	for _, s := range t[1:] {
		if _, ok := s.(hcl.TraverseAttr); !ok {
			return false
		}
	}
	return true
}

// optionalFlag reads `optional = true` or `optional = false`: a constant,
// because whether a block may find nothing is part of the runbook's design,
// not of its inputs.
func optionalFlag(expr hcl.Expression) (bool, hcl.Diagnostics) {
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.Bool {
		return false, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid optional",
			Detail:   "optional must be true or false, written as such: it cannot depend on variables or other blocks.",
			Subject:  expr.Range().Ptr(),
		}}
	}
	return v.True(), nil
}

// onFailure reads `on_failure = rollback` or `on_failure = "rollback"`.
func onFailure(expr hcl.Expression) (OnFailure, hcl.Diagnostics) {
	word := hcl.ExprAsKeyword(expr)
	if word == "" {
		v, diags := expr.Value(nil)
		if !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			word = v.AsString()
		}
	}
	switch of := OnFailure(word); of {
	case OnFailureRollback, OnFailureAbort, OnFailureContinue:
		return of, nil
	}
	shown := word
	if shown == "" {
		shown = "this expression"
	} else {
		shown = fmt.Sprintf("%q", shown)
	}
	return OnFailureDefault, hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid on_failure",
		Detail: fmt.Sprintf("The on_failure argument must be one of %s, not %s.",
			strings.Join([]string{string(OnFailureRollback), string(OnFailureAbort), string(OnFailureContinue)}, ", "), shown),
		Subject: expr.Range().Ptr(),
	}}
}

func decodeRetry(b *hcl.Block) (*Retry, hcl.Diagnostics) {
	content, diags := b.Body.Content(retrySchema)
	r := &Retry{DeclRange: b.DefRange}
	if a, ok := content.Attributes["attempts"]; ok {
		r.Attempts = a.Expr
	}
	if a, ok := content.Attributes["backoff"]; ok {
		r.Backoff = a.Expr
	}
	return r, diags
}

// decodeCheck reads a precondition, postcondition or validation block. It
// returns nil when a required attribute is missing.
func decodeCheck(b *hcl.Block) (*Check, hcl.Diagnostics) {
	content, diags := b.Body.Content(checkSchema)
	cond, ok1 := content.Attributes["condition"]
	msg, ok2 := content.Attributes["error_message"]
	if !ok1 || !ok2 {
		return nil, diags
	}
	return &Check{Condition: cond.Expr, ErrorMessage: msg.Expr, DeclRange: b.DefRange}, diags
}

// checkRefersToSomething rejects a condition that would check nothing: one
// without any reference has the same value on every run.
func checkRefersToSomething(c *Check, kind string) hcl.Diagnostics {
	if len(c.Condition.Variables()) > 0 {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Constant " + kind + " condition",
		Detail:   fmt.Sprintf("The %s condition must refer to at least one value (a variable, a data block, self.observed...), or else its result would not be checking anything.", kind),
		Subject:  c.Condition.Range().Ptr(),
	}}
}

// checkValidationRefs requires a variable's validation to test the variable.
func checkValidationRefs(name string, c *Check) hcl.Diagnostics {
	for _, t := range c.Condition.Variables() {
		if t.RootName() != "var" || len(t) < 2 {
			continue
		}
		if a, ok := t[1].(hcl.TraverseAttr); ok && a.Name == name {
			return nil
		}
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid validation condition",
		Detail:   fmt.Sprintf("The validation condition of variable %q must refer to var.%s, the value it checks.", name, name),
		Subject:  c.Condition.Range().Ptr(),
	}}
}
