package steps

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// A value from a sensitive variable arrives marked, at the attribute or on
// the whole object; String and Bool hand the step the plain value (the
// engine keeps track of the marks) instead of panicking, which is what the
// core step types rely on for exec's environment and file contents.
func TestStringBoolReadMarkedValues(t *testing.T) {
	obj := cty.ObjectVal(map[string]cty.Value{
		"secret": cty.StringVal("s3cret").Mark("sensitive"),
		"flag":   cty.True.Mark("sensitive"),
		"unset":  cty.NullVal(cty.String),
	}).Mark("sensitive")
	if s, ok := String(obj, "secret"); !ok || s != "s3cret" {
		t.Errorf("String(secret) = %q, %v; want \"s3cret\", true", s, ok)
	}
	if b, ok := Bool(obj, "flag"); !ok || !b {
		t.Errorf("Bool(flag) = %v, %v; want true, true", b, ok)
	}
	if s, ok := String(obj, "unset"); ok || s != "" {
		t.Errorf("String(unset) = %q, %v; want \"\", false", s, ok)
	}
	if _, ok := String(obj, "missing"); ok {
		t.Error("String(missing) reported present")
	}
}
