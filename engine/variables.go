package engine

import (
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/runbook"
)

// Inputs are the values given for a runbook's variables.
type Inputs struct {
	// Vars are `-var name=value` pairs. Values of primitive-typed variables
	// are taken literally; others are parsed as HCL expressions.
	Vars map[string]string
	// Files are `-var-file` paths: HCL (`name = value`) or JSON files.
	Files []string
	// Typed are values already typed, e.g. from a saved plan. Lowest
	// priority.
	Typed map[string]cty.Value
}

// resolveVars merges the inputs by priority and checks types and
// validations.
func (s *session) resolveVars(in Inputs) hcl.Diagnostics {
	var diags hcl.Diagnostics
	decl := map[string]*runbook.Variable{}
	for _, v := range s.rb.Variables {
		decl[v.Name] = v
	}
	raw := map[string]cty.Value{}
	for k, v := range in.Typed {
		raw[k] = v
	}
	getenv := s.e.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, v := range s.rb.Variables {
		if ev := getenv("REBIND_VAR_" + v.Name); ev != "" {
			val, d := parseRawVar(v, ev, "environment variable REBIND_VAR_"+v.Name)
			diags = append(diags, d...)
			raw[v.Name] = val
		}
	}
	for _, f := range in.Files {
		vals, d := readVarFile(f)
		diags = append(diags, d...)
		for k, v := range vals {
			if decl[k] == nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Undeclared variable",
					Detail: fmt.Sprintf("The variable file %s sets %q, which the runbook %q does not declare.", f, k, s.rb.Meta.Name)})
				continue
			}
			raw[k] = v
		}
	}
	names := slices.Sorted(maps.Keys(in.Vars))
	for _, k := range names {
		v := decl[k]
		if v == nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Undeclared variable",
				Detail: fmt.Sprintf("-var %s=...: the runbook %q declares no variable %q.", k, s.rb.Meta.Name, k)})
			continue
		}
		val, d := parseRawVar(v, in.Vars[k], "-var "+k)
		diags = append(diags, d...)
		raw[k] = val
	}
	if diags.HasErrors() {
		return diags
	}
	s.values = map[string]cty.Value{}
	for _, v := range s.rb.Variables {
		val, ok := raw[v.Name]
		if !ok {
			if v.Default == cty.NilVal {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Missing variable",
					Detail:   fmt.Sprintf("The variable %q has no default; give it with -var %s=VALUE, a -var-file or REBIND_VAR_%s.", v.Name, v.Name, v.Name),
					Subject:  v.DeclRange.Ptr(),
				})
				continue
			}
			val = v.Default
		}
		conv, err := convertInput(val, v.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   fmt.Sprintf("The value given for %q is not a %s: %s.", v.Name, v.Type.FriendlyName(), err),
				Subject:  v.DeclRange.Ptr(),
			})
			continue
		}
		if v.Sensitive {
			conv = lang.MarkSensitive(conv)
			s.secret = append(s.secret, v.Name)
			s.secrets.add(conv)
		} else if v.PII {
			conv = lang.MarkPII(conv)
		}
		s.values[v.Name] = conv
		s.sc.setVar(v.Name, conv)
	}
	if diags.HasErrors() {
		return diags
	}
	for _, v := range s.rb.Variables {
		for _, c := range v.Validations {
			_, d := lang.EvalCheck(s.sc.ctx(), c, "Validation")
			diags = append(diags, d...)
		}
	}
	return diags
}

func parseRawVar(v *runbook.Variable, text, where string) (cty.Value, hcl.Diagnostics) {
	if v.Type.IsPrimitiveType() {
		return cty.StringVal(text), nil
	}
	expr, diags := runbook.ParseExpression([]byte(text), where)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	val, d := expr.Value(nil)
	return val, append(diags, d...)
}

func readVarFile(path string) (map[string]cty.Value, hcl.Diagnostics) {
	b, err := runbook.ReadFile(path, runbook.MaxDataFileSize)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read variable file", Detail: err.Error()}}
	}
	f, diags := runbook.ParseFile(b, path)
	if diags.HasErrors() {
		return nil, diags
	}
	attrs, d := f.Body.JustAttributes()
	diags = append(diags, d...)
	out := map[string]cty.Value{}
	for name, a := range attrs {
		v, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		out[name] = v
	}
	return out, diags
}
