package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Unknown is how a value that is not known until apply appears in a plan.
const Unknown = "(known after apply)"

// OutOfRange is how a number outside the range of a 64-bit float appears
// in a plan: JSON cannot hold an infinity.
const OutOfRange = "(number out of range)"

// Value is a value as a plan shows it: canonical JSON, with unknown parts
// written as Unknown. Marks must be resolved (redacted) before encoding;
// DecodeValue converts a Value back to a cty value of type ty (its implied
// type when ty is cty.DynamicPseudoType or cty.NilType).
func DecodeValue(v Value, ty cty.Type) (cty.Value, error) {
	b := []byte(v.String())
	if ty == cty.NilType || ty == cty.DynamicPseudoType {
		implied, err := ctyjson.ImpliedType(b)
		if err != nil {
			return cty.NilVal, err
		}
		ty = implied
	}
	return ctyjson.Unmarshal(b, ty)
}

// EncodeValue drops any that remain.
type Value []byte

// EncodeValue encodes v canonically: object keys sorted, numbers in their
// shortest exact form (OutOfRange beyond a 64-bit float's range), unknowns
// as Unknown, null as null. cty.NilVal encodes as an empty Value.
func EncodeValue(v cty.Value) Value {
	if v == cty.NilVal {
		return nil
	}
	v, _ = v.UnmarkDeep()
	b, err := json.Marshal(toJSON(v))
	if err != nil {
		panic(fmt.Sprintf("plan: encode value: %v", err))
	}
	return Value(b)
}

// MarshalJSON returns the canonical bytes (null when empty).
func (v Value) MarshalJSON() ([]byte, error) {
	if len(v) == 0 {
		return []byte("null"), nil
	}
	return []byte(v), nil
}

// UnmarshalJSON keeps the bytes, compacted, so that a plan read back has the
// same canonical form it was written with.
func (v *Value) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		// A written null stays null: reading it as "absent" would drop
		// the field from the canonical bytes and change the digest.
		*v = Value("null")
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	// Re-encode through a generic tree so key order and number forms are
	// canonical even when a person edited the file.
	var tree any
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return err
	}
	out, err := json.Marshal(tree)
	if err != nil {
		return err
	}
	*v = Value(out)
	return nil
}

// IsZero reports whether v holds nothing (as opposed to JSON null).
func (v Value) IsZero() bool { return len(v) == 0 }

// Tree decodes v into plain Go values (map[string]any, []any, json.Number,
// string, bool, nil) for renderers.
func (v Value) Tree() any {
	if len(v) == 0 {
		return nil
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil
	}
	return tree
}

// String returns the JSON text.
func (v Value) String() string {
	if len(v) == 0 {
		return "null"
	}
	return string(v)
}

func toJSON(v cty.Value) any {
	if !v.IsKnown() {
		return Unknown
	}
	if v.IsNull() {
		return nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Bool:
		return v.True()
	case t == cty.Number:
		bf := v.AsBigFloat()
		if f, _ := bf.Float64(); math.IsInf(f, 0) {
			// JSON has no infinity, and a finite number this large
			// takes minutes to print. The engine refuses such numbers
			// where they enter (variables, literals, function results,
			// arguments); should one get through, the plan says so
			// rather than fail to encode.
			return OutOfRange
		}
		if bf.IsInt() {
			i, _ := bf.Int(nil)
			return json.Number(i.String())
		}
		return json.Number(bf.Text('g', -1))
	case t.IsObjectType() || t.IsMapType():
		m := map[string]any{}
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			m[k.AsString()] = toJSON(ev)
		}
		return m
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		out := []any{}
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			out = append(out, toJSON(ev))
		}
		return out
	case t.IsCapsuleType():
		return fmt.Sprintf("(%s)", t.FriendlyName())
	}
	return nil
}
