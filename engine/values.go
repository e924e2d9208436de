package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

// typedValue is a cty value as the journal stores it: its type next to its
// JSON, so that resume gets back exactly what a completed step produced.
type typedValue struct {
	Type  json.RawMessage `json:"type"`
	Value json.RawMessage `json:"value"`
	// Withheld names the attributes of a step's configuration that are
	// stored as null because they held a secret (storedConfig). Rollback
	// evaluates them again rather than run a revert without them.
	Withheld []string `json:"withheld,omitempty"`
}

// encodeTyped encodes a wholly known value; cty.NilVal encodes as nil.
// Marks are dropped: callers redact sensitive attributes first.
func encodeTyped(v cty.Value) (*typedValue, error) {
	if v == cty.NilVal {
		return nil, nil
	}
	// A value with no mark, no unknown and none of the rarer types is
	// encoded in one walk (typedJSON's, the same bytes as cty's), without
	// the copy UnmarkDeep makes: a data block's value recorded for the
	// run may list every user of a tenant.
	if tb, ok := appendTypeJSON(nil, v.Type()); ok {
		if vb, ok := appendValueJSON(nil, v, v.Type(), nil); ok {
			return &typedValue{Type: tb, Value: vb}, nil
		}
	}
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("engine: cannot record a value that is not wholly known")
	}
	tb, err := ctyjson.MarshalType(v.Type())
	if err != nil {
		return nil, err
	}
	vb, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	return &typedValue{Type: tb, Value: vb}, nil
}

// decodeTyped is the inverse of encodeTyped; nil decodes as cty.NilVal.
func decodeTyped(tv *typedValue) (cty.Value, error) {
	if tv == nil {
		return cty.NilVal, nil
	}
	ty, err := ctyjson.UnmarshalType(tv.Type)
	if err != nil {
		return cty.NilVal, err
	}
	if v, ok := fastTyped(tv.Value, ty); ok {
		return v, nil
	}
	return ctyjson.Unmarshal(tv.Value, ty)
}

// specFor turns a step or target schema into an hcldec spec that decodes a
// body into one object value holding every attribute.
func specFor(s steps.Schema) hcldec.ObjectSpec {
	spec := hcldec.ObjectSpec{}
	for name, a := range s {
		spec[name] = &hcldec.AttrSpec{Name: name, Type: a.Type, Required: a.Required}
	}
	return spec
}

// targetSpec is specFor a target type's schema with no argument required:
// a target's settings come from the runbook and its environment together,
// and checkRequired says which are missing, and where to set them.
func targetSpec(s steps.Schema) hcldec.ObjectSpec {
	spec := specFor(s)
	for name, a := range spec {
		a.(*hcldec.AttrSpec).Required = false
		spec[name] = a
	}
	return spec
}

// checkNulls reports attributes given an explicit null that the schema does
// not allow to be null. The body's attributes give the ranges.
func checkNulls(s steps.Schema, val cty.Value, body hcl.Body, what string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if val.IsNull() || !val.IsKnown() {
		return nil
	}
	attrs, _ := body.JustAttributes()
	for name, a := range s {
		if a.Nullable || !a.Required {
			continue
		}
		v := val.GetAttr(name)
		if v.IsKnown() && v.IsNull() {
			d := &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Null argument",
				Detail:   fmt.Sprintf("The argument %q of %s must not be null.", name, what),
			}
			if at, ok := attrs[name]; ok {
				d.Subject = at.Expr.Range().Ptr()
			}
			diags = append(diags, d)
		}
	}
	return diags
}

// redactSchema replaces the values of sensitive attributes in an object by
// null, so nothing secret reaches a plan or the journal.
func redactSchema(s steps.Schema, v cty.Value) cty.Value {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() {
		return v
	}
	changed := false
	attrs := map[string]cty.Value{}
	for name, av := range v.AsValueMap() {
		if a, ok := s[name]; ok && a.Sensitive && !av.IsNull() {
			attrs[name] = cty.NullVal(av.Type())
			changed = true
			continue
		}
		attrs[name] = av
	}
	if !changed {
		return v
	}
	return cty.ObjectVal(attrs)
}

// convertInput converts a variable value to its declared type. A number
// in the result that runbook.CheckNumber refuses is an error, and so is
// text converted to a number that go-cty read as 0 though it is not
// (1e-999999999): a plan cannot hold an infinity, and a silent 0 is a
// wrong value.
func convertInput(v cty.Value, ty cty.Type) (cty.Value, error) {
	conv := v
	if ty != cty.NilType && ty != cty.DynamicPseudoType {
		if err := checkNumberText(v, ty); err != nil {
			return cty.NilVal, err
		}
		pre, err := collections(v, ty)
		if err != nil {
			return cty.NilVal, err
		}
		if conv, err = convert.Convert(pre, ty); err != nil {
			return cty.NilVal, err
		}
	}
	if err := checkInputNumbers(v, conv); err != nil {
		return cty.NilVal, err
	}
	return conv, nil
}

// maxElementTypes is how many different element types a long tuple may
// have to become a collection (see collections).
const maxElementTypes = 64

// collections returns v with each tuple that ty wants as a list or set
// made a list, and each object it wants as a map made a map, before
// go-cty converts it. A JSON array is a tuple and a JSON object an object;
// go-cty finds their common element type by comparing every pair of
// element types, in time quadratic in their length: a 1 MB variable file
// holding a list of half a million numbers ran for more than fifteen
// minutes. Here each element's type is looked up once, the few distinct
// types are unified, and each element converted. An input whose elements
// have more than maxElementTypes types is refused.
func collections(v cty.Value, ty cty.Type) (cty.Value, error) {
	if !v.IsKnown() || v.IsNull() || v.IsMarked() || ty == cty.DynamicPseudoType {
		return v, nil
	}
	vt := v.Type()
	switch {
	case (ty.IsListType() || ty.IsSetType()) && vt.IsTupleType():
		elems := v.AsValueSlice()
		for i, e := range elems {
			var err error
			if elems[i], err = collections(e, ty.ElementType()); err != nil {
				return cty.NilVal, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return unified(elems, func(vals []cty.Value) cty.Value { return cty.ListVal(vals) }, func() cty.Value { return v })
	case ty.IsMapType() && vt.IsObjectType():
		attrs := v.AsValueMap()
		names := slices.Sorted(maps.Keys(attrs))
		elems := make([]cty.Value, len(names))
		for i, name := range names {
			var err error
			if elems[i], err = collections(attrs[name], ty.ElementType()); err != nil {
				return cty.NilVal, fmt.Errorf("[%q]: %w", name, err)
			}
		}
		return unified(elems, func(vals []cty.Value) cty.Value {
			m := make(map[string]cty.Value, len(vals))
			for i, name := range names {
				m[name] = vals[i]
			}
			return cty.MapVal(m)
		}, func() cty.Value { return v })
	case ty.IsObjectType() && vt.IsObjectType():
		attrs := v.AsValueMap()
		for name, at := range ty.AttributeTypes() {
			if av, ok := attrs[name]; ok {
				var err error
				if attrs[name], err = collections(av, at); err != nil {
					return cty.NilVal, fmt.Errorf(".%s: %w", name, err)
				}
			}
		}
		return cty.ObjectVal(attrs), nil
	}
	return v, nil
}

// unified converts elems to their one common type and builds the
// collection with build; when they have none, or an element is not known
// enough to tell, it returns orig() as it was and lets go-cty decide.
func unified(elems []cty.Value, build func([]cty.Value) cty.Value, orig func() cty.Value) (cty.Value, error) {
	if len(elems) == 0 {
		return orig(), nil
	}
	seen := map[string]bool{}
	var distinct []cty.Type
	for _, e := range elems {
		if !e.IsWhollyKnown() {
			return orig(), nil
		}
		if key := e.Type().GoString(); !seen[key] {
			seen[key] = true
			distinct = append(distinct, e.Type())
			if len(distinct) > maxElementTypes {
				return cty.NilVal, fmt.Errorf("its %d elements have more than %d different types; give elements of one type", len(elems), maxElementTypes)
			}
		}
	}
	common := distinct[0]
	if len(distinct) > 1 {
		common, _ = convert.UnifyUnsafe(distinct)
		if common == cty.NilType || common == cty.DynamicPseudoType {
			return orig(), nil
		}
		for i, e := range elems {
			c, err := convert.Convert(e, common)
			if err != nil {
				return orig(), nil
			}
			elems[i] = c
		}
	}
	if common == cty.DynamicPseudoType {
		return orig(), nil
	}
	return build(elems), nil
}

// checkNumberText refuses, before go-cty converts v to ty, a string in v
// too long to read as a number (runbook.MaxNumberText) when ty holds
// numbers: go-cty would take minutes over ten million digits.
func checkNumberText(v cty.Value, ty cty.Type) error {
	if !hasNumber(ty) {
		return nil
	}
	var found error
	_ = cty.Walk(v, func(p cty.Path, ev cty.Value) (bool, error) {
		ev, _ = ev.Unmark()
		if found != nil || ev.Type() != cty.String || !ev.IsKnown() || ev.IsNull() {
			return found == nil, nil
		}
		if s := ev.AsString(); len(s) > runbook.MaxNumberText && strings.TrimLeft(s, " +-.0123456789") != s {
			found = runbook.CheckNumberText(s)
		}
		return true, nil
	})
	return found
}

// hasNumber reports whether ty is or holds cty.Number.
func hasNumber(ty cty.Type) bool {
	switch {
	case ty == cty.Number:
		return true
	case ty.IsCollectionType():
		return hasNumber(ty.ElementType())
	case ty.IsObjectType():
		for _, at := range ty.AttributeTypes() {
			if hasNumber(at) {
				return true
			}
		}
	case ty.IsTupleType():
		for _, et := range ty.TupleElementTypes() {
			if hasNumber(et) {
				return true
			}
		}
	}
	return false
}

// checkInputNumbers checks every number in conv, converted from v: with
// the text it was converted from when v held a string there.
func checkInputNumbers(v, conv cty.Value) error {
	var found error
	_ = cty.Walk(conv, func(p cty.Path, ev cty.Value) (bool, error) {
		if found != nil {
			return false, nil
		}
		ev, _ = ev.Unmark()
		if ev.Type() != cty.Number || !ev.IsKnown() || ev.IsNull() {
			return true, nil
		}
		var err error
		if orig, perr := p.Apply(v); perr == nil && orig.Type() == cty.String && orig.IsKnown() && !orig.IsNull() {
			orig, _ = orig.Unmark()
			err = runbook.CheckNumberText(orig.AsString())
		}
		if err == nil {
			if err = runbook.CheckNumber(ev.AsBigFloat()); err != nil {
				err = fmt.Errorf("the number %w", err)
			}
		}
		if err != nil && len(p) > 0 {
			err = fmt.Errorf("at %s, %w", lang.PathString(p), err)
		}
		found = err
		return false, nil
	})
	return found
}

// checkNumbers reports a number in a decoded step or target configuration
// that runbook.CheckNumber refuses (made by arithmetic, or converted from
// a string); the body's attribute gives the range.
func checkNumbers(val cty.Value, body hcl.Body, what string) hcl.Diagnostics {
	path, err := runbook.FindBadNumber(val)
	if err == nil {
		return nil
	}
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Number out of range",
		Detail:   fmt.Sprintf("The number in %s%s %s.", what, lang.PathString(path), err),
		Subject:  body.MissingItemRange().Ptr(),
	}
	if len(path) > 0 {
		if ga, ok := path[0].(cty.GetAttrStep); ok {
			attrs, _ := body.JustAttributes()
			if at, ok := attrs[ga.Name]; ok {
				d.Subject = at.Expr.Range().Ptr()
			}
		}
	}
	return hcl.Diagnostics{d}
}
