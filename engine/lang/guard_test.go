package lang

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestGuardSecrets: a function's error about a sensitive argument does not
// quote it (tonumber used to print "cannot convert \"hunter2\" to
// number"), while everything else about the functions stays as it was:
// conversions HCL does before a call, marks on results, try and can.
func TestGuardSecrets(t *testing.T) {
	ctx := testContext(t)
	for _, src := range []string{
		`tonumber(var.password)`,
		`tobool(var.password)`,
		`regex("[", var.password)`,
		`guid(var.password)`,
		`csvdecode(var.password)`,
		`substr(var.password, 10, 1)`,
	} {
		_, diags := eval(t, ctx, src)
		if !diags.HasErrors() {
			continue
		}
		if strings.Contains(diags.Error(), "hunter2") {
			t.Errorf("%s: the error quotes the secret: %s", src, diags.Error())
		}
	}
	v, diags := eval(t, ctx, `tonumber(var.password)`)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "the argument is sensitive, so the error is not shown") {
		t.Errorf("tonumber(secret) = %#v, %v; want the guarded error", v, diags)
	}
	// Errors about values that are not secret keep their words.
	if _, diags := eval(t, ctx, `tonumber("abc")`); !diags.HasErrors() || !strings.Contains(diags.Error(), `"abc"`) {
		t.Errorf("tonumber(\"abc\") = %v", diags)
	}
	for src, want := range map[string]cty.Value{
		`upper(5)`:                           s("5"),
		`join(",", [1, 2])`:                  s("1,2"),
		`try(tonumber(var.password), 0)`:     cty.NumberIntVal(0),
		`can(tonumber(var.password))`:        cty.False,
		`length(toset(["a", "b", "a"]))`:     cty.NumberIntVal(2),
		`coalesce(null, var.password) != ""`: cty.True,
	} {
		got, diags := eval(t, ctx, src)
		if diags.HasErrors() {
			t.Errorf("%s: %s", src, diags.Error())
			continue
		}
		if plain, _ := got.UnmarkDeep(); !plain.RawEquals(want) {
			t.Errorf("%s = %#v, want %#v", src, plain, want)
		}
	}
	got, diags := eval(t, ctx, `upper(var.password)`)
	if diags.HasErrors() || !HasSensitive(got) {
		t.Errorf("upper(secret) = %#v, %v: want a sensitive result", got, diags)
	}
}
