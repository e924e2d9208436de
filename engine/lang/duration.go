package lang

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/rebind-dev/rebind/steps"
)

// ParseDuration evaluates expr as a duration string: Go's syntax ("90s",
// "1h30m") plus "d" for days of 24 hours ("30d", "1d12h", "1.5d"): the one
// grammar, steps.ParseDuration, that step arguments use too. what names the
// argument in diagnostics, e.g. "timeout" or "await". A nil expression or a
// null value gives 0 and no diagnostics, as if the argument were absent.
// Negative durations, and values not known yet, are errors.
func ParseDuration(ctx *hcl.EvalContext, expr hcl.Expression, what string) (time.Duration, hcl.Diagnostics) {
	if expr == nil {
		return 0, nil
	}
	v, diags := evalKnown(ctx, expr, cty.String, what, "a duration string such as \"90s\", \"3h\" or \"30d\"")
	if diags.HasErrors() || v.IsNull() {
		return 0, diags
	}
	s := strings.TrimSpace(v.AsString())
	d, err := steps.ParseDuration(s)
	if err != nil {
		return 0, append(diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Invalid " + what,
			Detail:      fmt.Sprintf("The %s argument must be a duration such as \"90s\", \"3h\" or \"30d\": %s.", what, err),
			Subject:     expr.Range().Ptr(),
			Expression:  expr,
			EvalContext: ctx,
		})
	}
	return d, diags
}

// ParseMaxErrors evaluates a `max_errors` expression: a whole number of
// failed instances (count), or a string percentage of the fan-out such as
// "10%" (percent, from 0 to 100). A nil expression or a null value gives
// zero for both: no instance may fail.
func ParseMaxErrors(ctx *hcl.EvalContext, expr hcl.Expression) (count int, percent float64, diags hcl.Diagnostics) {
	if expr == nil {
		return 0, 0, nil
	}
	const want = "a number of instances such as 3, or a percentage such as \"10%\""
	v, diags := evalKnown(ctx, expr, cty.DynamicPseudoType, "max_errors", want)
	if diags.HasErrors() || v.IsNull() {
		return 0, 0, diags
	}
	bad := func(detail string) (int, float64, hcl.Diagnostics) {
		return 0, 0, append(diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Invalid max_errors",
			Detail:      detail,
			Subject:     expr.Range().Ptr(),
			Expression:  expr,
			EvalContext: ctx,
		})
	}
	if v.Type() == cty.String {
		s := strings.TrimSpace(v.AsString())
		if p, ok := strings.CutSuffix(s, "%"); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
				return bad(fmt.Sprintf("The max_errors percentage %q must be a number from 0 to 100 followed by %%.", s))
			}
			return 0, f, diags
		}
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil {
		return bad(fmt.Sprintf("The max_errors argument must be %s.", want))
	}
	bf := n.AsBigFloat()
	if !bf.IsInt() || bf.Sign() < 0 || bf.Cmp(big.NewFloat(math.MaxInt32)) > 0 {
		return bad(fmt.Sprintf("The max_errors count must be a whole number of instances, 0 or more, not %s.", bf.Text('g', -1)))
	}
	c, _ := bf.Int64()
	return int(c), 0, diags
}

// evalKnown evaluates expr and converts it to ty, unmarked. It reports a
// value not known yet: durations and error budgets must be fixed before a
// step starts.
func evalKnown(ctx *hcl.EvalContext, expr hcl.Expression, ty cty.Type, what, want string) (cty.Value, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return cty.NilVal, append(diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Unknown " + what,
			Detail:      fmt.Sprintf("The %s argument depends on a value that is not known yet; it must be known before the step starts.", what),
			Subject:     expr.Range().Ptr(),
			Expression:  expr,
			EvalContext: ctx,
		})
	}
	conv, err := convert.Convert(v, ty)
	if err != nil {
		return cty.NilVal, append(diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Invalid " + what,
			Detail:      fmt.Sprintf("The %s argument must be %s: %s.", what, want, err),
			Subject:     expr.Range().Ptr(),
			Expression:  expr,
			EvalContext: ctx,
		})
	}
	return conv, diags
}
