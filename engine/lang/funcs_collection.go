package lang

import (
	"errors"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// LengthFunc is stdlib's length, extended as Terraform's is to strings (the
// number of characters, counted as strlen counts them: Unicode grapheme
// clusters, so "e\u0301" is one) and to objects: a fan-out step's value
// (step.T.N) is an object keyed by each.key, and "how many instances" is a
// question runbooks ask of it.
var LengthFunc = function.New(&function.Spec{
	Description: "Returns the number of elements of a list, set, map, tuple or object, or the characters of a string.",
	Params: []function.Parameter{{
		Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true, AllowUnknown: true, AllowMarked: true,
	}},
	Type: function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
		v, marks := args[0].Unmark()
		if v.Type().IsObjectType() {
			return cty.NumberIntVal(int64(len(v.Type().AttributeTypes()))).WithMarks(marks), nil
		}
		if v.Type() == cty.String {
			n, err := stdlib.Strlen(v)
			if err != nil {
				return cty.NilVal, err
			}
			return n.WithMarks(marks), nil
		}
		n, err := stdlib.LengthFunc.Call([]cty.Value{v})
		if err != nil {
			return cty.NilVal, err
		}
		return n.WithMarks(marks), nil
	},
})

// boolsFunc builds alltrue / anytrue: a fold over a list or set of bools.
func boolsFunc(desc string, empty bool, stop bool) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:        function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			l := args[0]
			if !l.IsWhollyKnown() {
				return cty.UnknownVal(cty.Bool), nil
			}
			if l.IsNull() {
				return cty.NilVal, errors.New("the list must not be null")
			}
			for it := l.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if e.IsNull() {
					return cty.NilVal, errors.New("the list must not hold null")
				}
				if e.True() == stop {
					return cty.BoolVal(stop), nil
				}
			}
			return cty.BoolVal(empty), nil
		},
	})
}

// AllTrueFunc is alltrue(list): true when every element is true (and for
// an empty list).
var AllTrueFunc = boolsFunc("Returns true when every element of the list is true, or the list is empty.", true, false)

// AnyTrueFunc is anytrue(list): true when at least one element is true.
var AnyTrueFunc = boolsFunc("Returns true when at least one element of the list is true.", false, true)

// OneFunc is one(list): the only element of a list or set of zero or one
// elements, null for none, an error for more — "exactly one match or
// nothing" is how a runbook says a look-up must not be ambiguous.
var OneFunc = function.New(&function.Spec{
	Description: "Returns the only element of a list or set of at most one element, or null when it is empty.",
	Params:      []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type: func(args []cty.Value) (cty.Type, error) {
		ty := args[0].Type()
		switch {
		case ty.IsListType() || ty.IsSetType():
			return ty.ElementType(), nil
		case ty.IsTupleType():
			el := ty.TupleElementTypes()
			switch len(el) {
			case 0:
				return cty.DynamicPseudoType, nil
			case 1:
				return el[0], nil
			}
			return cty.NilType, function.NewArgErrorf(0, "one() needs at most one element; this tuple has %d", len(el))
		}
		return cty.NilType, function.NewArgErrorf(0, "one() needs a list, set or tuple, not %s", ty.FriendlyName())
	},
	Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
		v := args[0]
		if !v.IsKnown() {
			return cty.UnknownVal(retType), nil
		}
		if v.IsNull() {
			return cty.NilVal, errors.New("the list must not be null")
		}
		switch n := v.LengthInt(); n {
		case 0:
			return cty.NullVal(retType), nil
		case 1:
			it := v.ElementIterator()
			it.Next()
			_, e := it.Element()
			return e, nil
		default:
			return cty.NilVal, function.NewArgErrorf(0, "one() needs at most one element; this has %d", n)
		}
	},
})
