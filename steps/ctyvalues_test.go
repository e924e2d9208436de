package steps

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestListOfAndOptString: no elements is an empty list of the type asked
// for (not a null, not an untyped list); "" is null.
func TestListOfAndOptString(t *testing.T) {
	obj := cty.Object(map[string]cty.Type{"code": cty.String})
	if got := ListOf(obj, nil); !got.Type().Equals(cty.List(obj)) || got.LengthInt() != 0 || got.IsNull() {
		t.Errorf("ListOf(none) = %#v, want an empty list of the object type", got)
	}
	one := cty.ObjectVal(map[string]cty.Value{"code": cty.StringVal("x")})
	if got := ListOf(obj, []cty.Value{one}); got.LengthInt() != 1 || !got.Index(cty.NumberIntVal(0)).RawEquals(one) {
		t.Errorf("ListOf(one) = %#v", got)
	}
	if got := OptString(""); !got.IsNull() || !got.Type().Equals(cty.String) {
		t.Errorf("OptString(\"\") = %#v, want a null string", got)
	}
	if got := OptString("a"); !got.RawEquals(cty.StringVal("a")) {
		t.Errorf("OptString(a) = %#v", got)
	}
}
