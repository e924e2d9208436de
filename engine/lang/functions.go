// Package lang evaluates runbook expressions: the functions a runbook may
// call, the sensitive and PII marks carried on values, and the evaluation of
// conditions, durations and error budgets that the engine needs from a
// runbook's source form (package runbook).
//
// Every function gives its result the marks of its arguments, so a value
// derived from a sensitive variable stays sensitive however it is
// transformed. go-cty does this for any parameter without AllowMarked; the
// anchor functions do it themselves, so that their errors never quote a
// secret.
package lang

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/rebind-dev/rebind/engine/runbook"
)

// Functions returns the functions a runbook may call, by name. file and
// fileexists resolve relative paths from baseDir, the runbook's folder.
//
// Besides the usual string, collection, encoding and numeric functions, it
// holds the anchor conversions hybrid identity work needs:
//
//	immutable_id(guid)      "1effbc1e-..." -> "Hrz/HqNKnU+lCNTYHx9Ycw=="
//	guid(immutable_id)      "Hrz/HqNKnU+lCNTYHx9Ycw==" -> "1effbc1e-..."
//	guid_bytes(guid)        the 16 bytes AD stores, as a list of numbers
//	ldap_guid_filter(guid)  `\1e\bc\ff...`, for (objectGUID=...) filters
//	ldap_escape(value)      `a\2a` for "a*", for any other filter value
//
// coalesce skips nulls only (not empty strings, unlike Terraform's), and
// there is no index(): go-cty's would look up an element by key where
// Terraform users expect the position of a value.
//
// The map is new on each call; the caller may add to it.
func Functions(baseDir string) map[string]function.Function {
	fns := map[string]function.Function{
		// Anchors.
		"immutable_id":     ImmutableIDFunc,
		"guid":             GUIDFunc,
		"guid_bytes":       GUIDBytesFunc,
		"ldap_guid_filter": LDAPGUIDFilterFunc,
		"ldap_escape":      LDAPEscapeFunc,

		// Files and CSV.
		"file":       MakeFileFunc(baseDir),
		"fileexists": MakeFileExistsFunc(baseDir),
		"csvdecode":  CSVDecodeFunc,

		// Strings.
		"chomp":       stdlib.ChompFunc,
		"endswith":    EndsWithFunc,
		"format":      stdlib.FormatFunc,
		"formatlist":  stdlib.FormatListFunc,
		"indent":      stdlib.IndentFunc,
		"join":        stdlib.JoinFunc,
		"lower":       stdlib.LowerFunc,
		"regex":       stdlib.RegexFunc,
		"regexall":    stdlib.RegexAllFunc,
		"replace":     stdlib.ReplaceFunc,
		"split":       stdlib.SplitFunc,
		"startswith":  StartsWithFunc,
		"strcontains": StrContainsFunc,
		"strlen":      stdlib.StrlenFunc,
		"strrev":      stdlib.ReverseFunc,
		"substr":      stdlib.SubstrFunc,
		"title":       stdlib.TitleFunc,
		"trim":        stdlib.TrimFunc,
		"trimprefix":  stdlib.TrimPrefixFunc,
		"trimspace":   stdlib.TrimSpaceFunc,
		"trimsuffix":  stdlib.TrimSuffixFunc,
		"upper":       stdlib.UpperFunc,

		// Collections.
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"keys":            stdlib.KeysFunc,
		"length":          LengthFunc,
		"alltrue":         AllTrueFunc,
		"anytrue":         AnyTrueFunc,
		"one":             OneFunc,
		"lookup":          stdlib.LookupFunc,
		"merge":           stdlib.MergeFunc,
		"range":           stdlib.RangeFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,

		// Numbers.
		"abs":      stdlib.AbsoluteFunc,
		"ceil":     stdlib.CeilFunc,
		"floor":    stdlib.FloorFunc,
		"max":      stdlib.MaxFunc,
		"min":      stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc,
		"pow":      stdlib.PowFunc,
		"signum":   stdlib.SignumFunc,

		// Encoding.
		"base64decode": Base64DecodeFunc,
		"base64encode": Base64EncodeFunc,
		"jsondecode":   stdlib.JSONDecodeFunc,
		"jsonencode":   stdlib.JSONEncodeFunc,

		// Time.
		"formatdate": stdlib.FormatDateFunc,
		"timeadd":    stdlib.TimeAddFunc,

		// Marks. There is no way to take a mark off.
		"pii":       PIIFunc,
		"sensitive": SensitiveFunc,

		// Types and errors.
		"can":      tryfunc.CanFunc,
		"try":      tryfunc.TryFunc,
		"tobool":   stdlib.MakeToFunc(cty.Bool),
		"tolist":   stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":    stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber": stdlib.MakeToFunc(cty.Number),
		"toset":    stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring": stdlib.MakeToFunc(cty.String),
	}
	// The functions that make numbers from text or float64 arithmetic can
	// make one no plan can hold: pow(10, 99999) is +Inf, and
	// tonumber("1e999999999") too. Their results are checked.
	for _, name := range []string{"jsondecode", "parseint", "pow", "tonumber"} {
		fns[name] = numbersInRange(name, fns[name])
	}
	return fns
}

// numbersInRange returns f with its result checked: a number in it that
// runbook.CheckNumber refuses is an error (HCL reports it at the call).
func numbersInRange(name string, f function.Function) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type:        f.ReturnTypeForValues,
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			// go-cty reads a number in time quadratic in its length: the
			// text is checked first.
			for _, a := range args {
				a, _ = a.Unmark()
				if a.Type() != cty.String || !a.IsKnown() || a.IsNull() {
					continue
				}
				if name == "jsondecode" {
					if diags := runbook.CheckJSON([]byte(a.AsString()), name); diags.HasErrors() {
						return cty.NilVal, fmt.Errorf("the JSON text: %s", strings.TrimSuffix(diags[0].Detail, "."))
					}
				} else if len(a.AsString()) > runbook.MaxNumberText {
					return cty.NilVal, fmt.Errorf("the number %w", runbook.CheckNumberText(a.AsString()))
				}
			}
			v, err := f.Call(args)
			if err != nil {
				return v, err
			}
			if path, err := runbook.FindBadNumber(v); err != nil {
				where := ""
				if len(path) > 0 {
					where = " at " + PathString(path)
				}
				return cty.NilVal, fmt.Errorf("the number%s in the result of %s %w", where, name, err)
			}
			return v, nil
		},
	})
}

// PathString writes a path into a value as an expression would: .a[0].
func PathString(p cty.Path) string {
	var b strings.Builder
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			b.WriteString("." + s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			} else if s.Key.Type() == cty.Number {
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().Text('f', -1))
			} else {
				b.WriteString("[...]")
			}
		}
	}
	return b.String()
}
