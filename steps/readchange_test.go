package steps

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// A data type's change reads: null before, the observed value after, of the
// observed value's type so a plan can render both sides.
func TestReadChange(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{"upn": cty.StringVal("a@contoso.com")})
	c := ReadChange(Observation{Object: "a", Value: v})
	if c.Action != Read {
		t.Errorf("Action = %q, want %q", c.Action, Read)
	}
	if !c.Before.IsNull() || !c.Before.Type().Equals(v.Type()) {
		t.Errorf("Before = %#v, want a null of %s", c.Before, v.Type().FriendlyName())
	}
	if !c.After.RawEquals(v) {
		t.Errorf("After = %#v, want %#v", c.After, v)
	}
}
