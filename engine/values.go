package engine

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

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

// convertInput converts a variable value to its declared type.
func convertInput(v cty.Value, ty cty.Type) (cty.Value, error) {
	if ty == cty.NilType || ty == cty.DynamicPseudoType {
		return v, nil
	}
	return convert.Convert(v, ty)
}
