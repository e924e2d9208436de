package approval

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/plan"
)

// EnvPolicy names the environment variable that points at the applier's
// policy file when --policy is not given.
const EnvPolicy = "REBIND_POLICY"

// maxCount bounds the approval counts a policy may ask for; more reviewers
// than this is a typo, not a policy.
const maxCount = 100

// Policy is the applier's own approval policy: floors that hold whatever a
// plan says. A plan is data from its author; the runbook's `approvals` can
// raise what a plan needs, never lower it below the applier's policy.
//
// The file is HCL:
//
//	approvals              = 1                  # every plan needs at least this many reviewers
//	irreversible_approvals = 2                  # and this many when a change cannot be undone
//	allowed_signers        = "allowed_signers"  # whose signature counts (relative to this file)
type Policy struct {
	// Approvals is the least number of distinct reviewers, the author
	// excluded, that any plan needs.
	Approvals int
	// IrreversibleApprovals is the least number a plan with a change that
	// cannot be undone needs.
	IrreversibleApprovals int
	// AllowedSigners verifies approvals; nil when the policy names no file.
	AllowedSigners *plan.AllowedSigners
	// AllowedSignersPath is the file AllowedSigners was read from.
	AllowedSignersPath string
	// Source is the policy file, or "" for the default policy.
	Source string
}

// Default is the policy without a file: no floor of its own, so the
// runbook's counts (recomputed from its sources, never taken from the
// plan's JSON) decide, and no allowed signers.
func Default() *Policy { return &Policy{} }

// Name says where the policy came from, for messages.
func (p *Policy) Name() string {
	if p == nil || p.Source == "" {
		return "the default policy (no --policy file)"
	}
	return "the policy " + p.Source
}

// Load reads a policy file. A relative allowed_signers path resolves
// against the policy file's folder, so the file means the same wherever
// rebind runs. Unknown attributes are errors: a misspelt floor must not
// silently be no floor.
func Load(path string) (*Policy, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("approval: policy: %w", err)
	}
	pol, diags := Parse(src, path)
	if diags.HasErrors() {
		return nil, fmt.Errorf("approval: policy: %w", diags)
	}
	return pol, nil
}

// Parse reads policy source; name is used in diagnostics and to resolve a
// relative allowed_signers path.
func Parse(src []byte, name string) (*Policy, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	content, d := f.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "approvals"},
		{Name: "irreversible_approvals"},
		{Name: "allowed_signers"},
	}})
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	pol := &Policy{Source: name}
	for _, a := range []struct {
		name string
		dst  *int
	}{{"approvals", &pol.Approvals}, {"irreversible_approvals", &pol.IrreversibleApprovals}} {
		attr, ok := content.Attributes[a.name]
		if !ok {
			continue
		}
		n, d := constCount(attr)
		diags = append(diags, d...)
		*a.dst = n
	}
	if attr, ok := content.Attributes["allowed_signers"]; ok {
		v, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if v.IsNull() || !v.IsKnown() || v.Type() != cty.String || v.AsString() == "" {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid allowed_signers",
					Detail: "allowed_signers must be the path of an allowed-signers file, as a string.", Subject: attr.Expr.Range().Ptr()})
			} else {
				p := v.AsString()
				if !filepath.IsAbs(p) {
					p = filepath.Join(filepath.Dir(name), p)
				}
				as, err := plan.ReadAllowedSigners(p)
				if err != nil {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read allowed_signers",
						Detail: err.Error() + ".", Subject: attr.Expr.Range().Ptr()})
				}
				pol.AllowedSigners, pol.AllowedSignersPath = as, p
			}
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return pol, diags
}

// constCount reads a whole number from 0 to maxCount written as a literal.
func constCount(attr *hcl.Attribute) (int, hcl.Diagnostics) {
	bad := hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid " + attr.Name,
		Detail:  fmt.Sprintf("%s must be a whole number from 0 to %d.", attr.Name, maxCount),
		Subject: attr.Expr.Range().Ptr()}}
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return 0, diags
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return 0, bad
	}
	f := v.AsBigFloat()
	if !f.IsInt() || f.Sign() < 0 || f.Cmp(big.NewFloat(maxCount)) > 0 {
		return 0, bad
	}
	n, _ := f.Int64()
	return int(n), nil
}

// Required is the number of distinct reviewers a plan needs: the larger of
// the runbook's count and the policy's floor, and, when the plan holds a
// change that cannot be undone, the larger still of the irreversible
// counts. The runbook's counts must come from its sources (see Check).
func (p *Policy) Required(runbookApprovals, runbookIrreversible int, irreversible bool) int {
	n := max(runbookApprovals, p.Approvals)
	if irreversible {
		n = max(n, runbookIrreversible, p.IrreversibleApprovals)
	}
	return n
}
