package lang

import (
	"errors"

	"github.com/hashicorp/hcl/v2/ext/customdecode"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// GuardSecrets wraps every function of funcs so that an error it returns
// for a call with a sensitive argument does not quote that argument.
// Functions quote their arguments in errors (tonumber: cannot convert
// "hunter2" to number), and HCL puts the error in a diagnostic.
//
// The wrapper takes each argument as it comes (any type, marks kept) and
// calls the function itself, so that argument conversion, which HCL would
// otherwise do first and report in its own words, happens inside it too.
func GuardSecrets(funcs map[string]function.Function) map[string]function.Function {
	out := make(map[string]function.Function, len(funcs))
	for name, f := range funcs {
		out[name] = guard(f)
	}
	return out
}

func varParams(f function.Function) []function.Parameter {
	if vp := f.VarParam(); vp != nil {
		return []function.Parameter{*vp}
	}
	return nil
}

// errWithheld stands in for an error about a sensitive argument.
var errWithheld = errors.New("the argument is sensitive, so the error is not shown")

func guard(f function.Function) function.Function {
	params := f.Params()
	for _, p := range append(append([]function.Parameter{}, params...), varParams(f)...) {
		// try and can take expressions, not values: HCL hands them over
		// only to a parameter of their own type. Their errors are about
		// their expression's evaluation, which is guarded itself.
		if customdecode.CustomExpressionDecoderForType(p.Type) != nil {
			return f
		}
	}
	wrapped := make([]function.Parameter, len(params))
	for i, p := range params {
		wrapped[i] = open(p)
	}
	var varParam *function.Parameter
	if vp := f.VarParam(); vp != nil {
		w := open(*vp)
		varParam = &w
	}
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      wrapped,
		VarParam:    varParam,
		Type: func(args []cty.Value) (cty.Type, error) {
			conv, err := convertArgs(params, f.VarParam(), args)
			if err != nil {
				return cty.NilType, withhold(err, args)
			}
			ty, err := f.ReturnTypeForValues(conv)
			return ty, withhold(err, args)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			conv, err := convertArgs(params, f.VarParam(), args)
			if err != nil {
				return cty.NilVal, withhold(err, args)
			}
			v, err := f.Call(conv)
			return v, withhold(err, args)
		},
	})
}

// convertArgs converts each argument to its parameter's type, as HCL does
// before it calls a function, keeping marks where they were.
func convertArgs(params []function.Parameter, varParam *function.Parameter, args []cty.Value) ([]cty.Value, error) {
	out := make([]cty.Value, len(args))
	for i, a := range args {
		p := varParam
		if i < len(params) {
			p = &params[i]
		}
		if p == nil || p.Type == cty.DynamicPseudoType || a.Type() == cty.DynamicPseudoType {
			out[i] = a
			continue
		}
		plain, marks := a.UnmarkDeepWithPaths()
		v, err := convert.Convert(plain, p.Type)
		if err != nil {
			return nil, function.NewArgError(i, err)
		}
		if len(marks) > 0 {
			v = markAll(v, marks)
		}
		out[i] = v
	}
	return out, nil
}

// markAll puts marks back on a converted value: at their paths when the
// conversion kept them (a tuple to a list, an object to a map), else on
// the whole value.
func markAll(v cty.Value, marks []cty.PathValueMarks) cty.Value {
	for _, pm := range marks {
		if _, err := pm.Path.Apply(v); err != nil {
			all := cty.NewValueMarks()
			for _, m := range marks {
				for k := range m.Marks {
					all[k] = struct{}{}
				}
			}
			return v.WithMarks(all)
		}
	}
	return v.MarkWithPaths(marks)
}

// open is p accepting anything: the wrapped function checks its own
// parameters when called.
func open(p function.Parameter) function.Parameter {
	p.Type = cty.DynamicPseudoType
	p.AllowMarked = true
	p.AllowDynamicType = true
	return p
}

// withhold replaces err when any argument is sensitive, keeping which
// argument it was about.
func withhold(err error, args []cty.Value) error {
	if err == nil {
		return nil
	}
	sensitive := false
	for _, a := range args {
		if HasSensitive(a) {
			sensitive = true
			break
		}
	}
	if !sensitive {
		return err
	}
	var ae function.ArgError
	if errors.As(err, &ae) {
		return function.NewArgError(ae.Index, errWithheld)
	}
	return errWithheld
}
