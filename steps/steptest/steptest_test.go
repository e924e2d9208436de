package steptest

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func TestConfig(t *testing.T) {
	schema := steps.Schema{
		"upn":   {Type: cty.String, Required: true},
		"count": {Type: cty.Number},
		"tags":  {Type: cty.Set(cty.String)},
		"any":   {Type: cty.DynamicPseudoType},
	}
	v := Config(schema, map[string]any{"upn": "a@b.c", "tags": []string{"x", "x", "y"}, "any": []string{"l"}})
	if v.GetAttr("upn").AsString() != "a@b.c" || !v.GetAttr("count").IsNull() {
		t.Fatalf("Config = %#v", v)
	}
	if got := v.GetAttr("tags"); !got.Type().Equals(cty.Set(cty.String)) || got.LengthInt() != 2 {
		t.Fatalf("tags not converted to the schema's set: %#v", got)
	}
	if got := v.GetAttr("any"); !got.Type().IsListType() {
		t.Fatalf("a dynamic attribute was converted: %#v", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an attribute the schema lacks did not panic")
		}
	}()
	Config(schema, map[string]any{"nope": "x"})
}
