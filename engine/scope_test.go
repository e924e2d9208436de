package engine

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// TestLocalsAreEvaluatedWithWhatTheyRead checks that a local is evaluated
// in a context holding only the locals it names: through the shared
// context, each local set rebuilt the object of every local before it,
// and a runbook of 18,000 locals took 25 s to validate.
func TestLocalsAreEvaluatedWithWhatTheyRead(t *testing.T) {
	sc := newScope(nil)
	for i := 0; i < 1000; i++ {
		sc.setLocal(string(rune('a'+i%26))+string(rune('a'+i/26)), cty.NumberIntVal(int64(i)))
	}
	sc.setVar("x", cty.StringVal("v"))
	expr := func(src string) []hcl.Traversal {
		e, diags := hclsyntax.ParseExpression([]byte(src), "t.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return e.Variables()
	}
	ctx := sc.ctxReading(expr(`local.ba + local["cb"] + length(var.x)`))
	locals := ctx.Variables["local"]
	if n := len(locals.Type().AttributeTypes()); n != 2 || !locals.Type().HasAttribute("ba") || !locals.Type().HasAttribute("cb") {
		t.Errorf("local holds %d attributes: %#v", n, locals)
	}
	if ctx.Variables["var"].GetAttr("x").AsString() != "v" {
		t.Error("var is missing")
	}
	// A reference that names no single local gets them all.
	if n := len(sc.ctxReading(expr(`local[var.x]`)).Variables["local"].Type().AttributeTypes()); n != 1000 {
		t.Errorf("local[var.x]: %d locals, want 1000", n)
	}
}
