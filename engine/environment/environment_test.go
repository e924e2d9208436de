package environment

import (
	"strings"
	"testing"
)

func TestSettingsDigestAndCompare(t *testing.T) {
	parse := func(src string) *Environment {
		t.Helper()
		env, diags := Parse([]byte(src), "e.hcl")
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return env
	}
	a := parse(`target "x" "one" {
  port = 1
  host = "a"
}
target "x" "unused" { host = "z" }`)
	b := parse(`target "x" "one" {
  host = "a"
  port = "1"
}`)
	keys := []string{"x.one"}
	sa, sb := a.SettingsFor(keys), b.SettingsFor(keys)
	if _, ok := sa["x.unused"]; ok {
		t.Error("a target the runbook does not use is recorded")
	}
	if sa.Digest() == sb.Digest() {
		t.Error("the number 1 and the string \"1\" digest the same")
	}
	d := Compare(sa, sb)
	if len(d) != 1 || d[0].Target != "x.one" || d[0].Setting != "port" || d[0].Was != "1" || d[0].Now != `"1"` {
		t.Errorf("Compare: %+v", d)
	}
	// Order in the file does not matter.
	c := parse("target \"x\" \"one\" {\n  host = \"a\"\n  port = 1\n}")
	if got := c.SettingsFor(keys).Digest(); got != sa.Digest() {
		t.Error("the digest depends on the order of the settings")
	}
	if d := Compare(sa, Settings{}); len(d) != 2 || d[0].Now != "" {
		t.Errorf("Compare with nothing: %+v", d)
	}
	if len(sa.Digest()) != 64 || strings.Trim(sa.Digest(), "0123456789abcdef") != "" {
		t.Error("digest is not hex SHA-256")
	}
}
