package runbook

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Numbers in rebind have go-cty's arbitrary precision, but must lie in the
// range of a 64-bit float (about ±1.8e308, and no closer to zero than
// about 4.9e-324 unless zero), the range JSON readers take. go-cty parses
// 1e999999999 as +Inf, which a plan cannot encode (JSON has no infinity),
// and 1e-999999999 as 0, silently; a number like 1e99999999 is finite but
// has a hundred million digits to print. Each is refused where it enters:
// a literal in a runbook or variable file (with its file and line), a
// variable's value (naming the variable), a function's result and a
// step's or target's decoded argument (with the expression's range).

var (
	maxNumber = new(big.Float).SetFloat64(math.MaxFloat64)
	minNumber = new(big.Float).SetFloat64(math.SmallestNonzeroFloat64)
)

// errNumberRange is wrapped by the errors of CheckNumber and
// CheckNumberText.
var errNumberRange = errors.New("is outside the range of a 64-bit float (about ±1.8e308)")

// CheckNumber returns an error when f is infinite or outside the range
// numbers must lie in (see above). Its text reads after "the number".
func CheckNumber(f *big.Float) error {
	abs := new(big.Float).Abs(f)
	switch {
	case f.IsInf():
		return fmt.Errorf("is infinite: it %w", errNumberRange)
	case abs.Cmp(maxNumber) > 0:
		return fmt.Errorf("is too large: it %w", errNumberRange)
	case f.Sign() != 0 && abs.Cmp(minNumber) < 0:
		return fmt.Errorf("is too close to zero: it %w", errNumberRange)
	}
	return nil
}

// MaxNumberText is the longest text rebind reads as a number. go-cty
// parses numbers in time quadratic in their length (a million digits take
// a second, ten million two minutes), and no number in range needs more:
// the longest exact decimal form of a 64-bit float has 767 digits.
const MaxNumberText = 1000

// CheckNumberText is CheckNumber for a number written as text (a literal,
// a -var value): it also refuses text longer than MaxNumberText, without
// parsing it, and text that parses as 0 although its digits are not all
// zero (1e-999999999), and says what the text was.
func CheckNumberText(s string) error {
	if len(s) > MaxNumberText {
		return fmt.Errorf("%s has %d characters: rebind reads numbers of at most %d", quoteNumber(s), len(s), MaxNumberText)
	}
	f, _, err := big.ParseFloat(strings.TrimSpace(s), 10, 512, big.ToNearestEven)
	if err != nil {
		return nil // not a number: whoever parses it next says so
	}
	if err := CheckNumber(f); err != nil {
		return fmt.Errorf("%s %w", quoteNumber(s), err)
	}
	if f.Sign() == 0 && strings.ContainsAny(mantissa(s), "123456789") {
		return fmt.Errorf("%s is too close to zero: it would be read as 0; it %w", quoteNumber(s), errNumberRange)
	}
	return nil
}

// mantissa is the digits of a number before its exponent.
func mantissa(s string) string {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		return s[:i]
	}
	return s
}

// quoteNumber shows a number as given, cut when long.
func quoteNumber(s string) string {
	if len(s) > 40 {
		s = s[:20] + "..." + s[len(s)-17:]
	}
	return s
}

// FindBadNumber returns the path to the first number in v that
// CheckNumber refuses, and its error; nil when there is none. Unknown and
// null values are skipped; marks are ignored.
func FindBadNumber(v cty.Value) (cty.Path, error) {
	if v == cty.NilVal {
		return nil, nil
	}
	v, _ = v.UnmarkDeep()
	var bad cty.Path
	var badErr error
	_ = cty.Walk(v, func(p cty.Path, ev cty.Value) (bool, error) {
		if badErr != nil {
			return false, nil
		}
		if ev.Type() == cty.Number && ev.IsKnown() && !ev.IsNull() {
			if err := CheckNumber(ev.AsBigFloat()); err != nil {
				bad, badErr = p.Copy(), err
				return false, nil
			}
		}
		return true, nil
	})
	return bad, badErr
}

// checkLiterals refuses the number literals in node that CheckNumberText
// refuses; src is the text node was parsed from.
func checkLiterals(node hclsyntax.Node, src []byte) hcl.Diagnostics {
	var diags hcl.Diagnostics
	_ = hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		lit, ok := n.(*hclsyntax.LiteralValueExpr)
		if !ok || lit.Val.Type() != cty.Number || len(diags) > 0 {
			return nil
		}
		// The source text, not the value: printing a number with a
		// hundred million digits takes minutes.
		r := lit.SrcRange
		var err error
		if r.Start.Byte >= 0 && r.End.Byte <= len(src) && r.Start.Byte <= r.End.Byte {
			err = CheckNumberText(string(src[r.Start.Byte:r.End.Byte]))
		} else if err = CheckNumber(lit.Val.AsBigFloat()); err != nil {
			err = fmt.Errorf("here %w", err)
		}
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Number out of range",
				Detail:   fmt.Sprintf("The number %s.", err),
				Subject:  r.Ptr(),
			})
		}
		return nil
	})
	return diags
}
