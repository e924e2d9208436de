package lang

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// CheckResult is the outcome of a precondition, postcondition or variable
// validation.
type CheckResult int

const (
	// Pass: the condition is true.
	Pass CheckResult = iota + 1
	// Fail: the condition is false, or it could not be evaluated (the
	// diagnostics then say why).
	Fail
	// Deferred: the condition depends on a value not known yet (at plan
	// time, something a step will produce); check it again at apply.
	Deferred
)

// String returns "pass", "fail" or "deferred".
func (r CheckResult) String() string {
	switch r {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Deferred:
		return "deferred"
	}
	return fmt.Sprintf("CheckResult(%d)", int(r))
}

// EvalCheck evaluates a check in ctx. kind names it in diagnostics:
// "Precondition", "Postcondition" or "Validation".
//
// An unknown condition is Deferred with no diagnostics. A null or non-bool
// condition, or one that fails to evaluate, is Fail with an error diagnostic
// about the expression. A false condition is Fail with one error diagnostic:
// Summary "<kind> failed", Detail the evaluated error_message, Subject the
// condition, and Expression and EvalContext set so that
// hcl.NewDiagnosticTextWriter prints the values the condition used (it
// skips marked ones). A sensitive error message is not shown.
func EvalCheck(ctx *hcl.EvalContext, c *runbook.Check, kind string) (CheckResult, hcl.Diagnostics) {
	val, diags := c.Condition.Value(ctx)
	if diags.HasErrors() {
		return Fail, diags
	}
	if !val.IsKnown() {
		return Deferred, diags
	}
	val, _ = val.Unmark()
	if val.IsNull() {
		return Fail, append(diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Invalid condition result",
			Detail:      fmt.Sprintf("The %s condition returned null; it must return true or false.", strings.ToLower(kind)),
			Subject:     c.Condition.Range().Ptr(),
			Expression:  c.Condition,
			EvalContext: ctx,
		})
	}
	b, err := convert.Convert(val, cty.Bool)
	if err != nil {
		return Fail, append(diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Invalid condition result",
			Detail:      fmt.Sprintf("The %s condition must return true or false: %s.", strings.ToLower(kind), err),
			Subject:     c.Condition.Range().Ptr(),
			Expression:  c.Condition,
			EvalContext: ctx,
		})
	}
	if b.True() {
		return Pass, diags
	}

	msg, msgDiags := errorMessage(ctx, c)
	diags = append(diags, msgDiags...)
	return Fail, append(diags, &hcl.Diagnostic{
		Severity:    hcl.DiagError,
		Summary:     kind + " failed",
		Detail:      msg,
		Subject:     c.Condition.Range().Ptr(),
		Expression:  c.Condition,
		EvalContext: ctx,
	})
}

// errorMessage evaluates a failed check's error_message. When it cannot be
// shown, a fixed sentence says why, with a diagnostic for an evaluation
// error.
func errorMessage(ctx *hcl.EvalContext, c *runbook.Check) (string, hcl.Diagnostics) {
	const fallback = "The condition is false, and its error message could not be evaluated."
	v, diags := c.ErrorMessage.Value(ctx)
	if diags.HasErrors() {
		return fallback, diags
	}
	if HasSensitive(v) {
		return "The condition is false. Its error message refers to sensitive values, so it is not shown.", diags
	}
	v, _ = v.UnmarkDeep()
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() {
		return fallback, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid error message",
			Detail:   "The error_message must be a string.",
			Subject:  c.ErrorMessage.Range().Ptr(),
		})
	}
	if !s.IsKnown() {
		return "The condition is false. Its error message depends on values not known yet.", diags
	}
	return strings.TrimSpace(s.AsString()), diags
}
