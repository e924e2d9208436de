package runbook

import "testing"

// ReferencesStep tells the engine which step values to keep in the
// evaluation context: a value some expression may read must be there.
func TestReferencesStep(t *testing.T) {
	src := `runbook "r" {}
locals {
  first = step.file.a.result
  any   = step.exec
}
step "file" "a" {
  path    = "a"
  content = "a"
}
step "file" "b" {
  path    = "b"
  content = "b"
}
step "exec" "c" {
  command = ["true"]
}
step "file" "d" {
  path    = "d"
  content = local.first == null ? "x" : "y"
  precondition {
    condition     = step.file.b.action != "delete"
    error_message = "b"
  }
}
`
	rb, diags := LoadSources(".", map[string][]byte{"main.hcl": []byte(src)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, c := range []struct {
		typ, name string
		want      bool
	}{
		{"file", "a", true},  // through a local
		{"file", "b", true},  // in a condition
		{"exec", "c", true},  // the whole type
		{"exec", "z", true},  // the whole type
		{"file", "d", false}, // nobody reads it
	} {
		if got := rb.ReferencesStep(c.typ, c.name); got != c.want {
			t.Errorf("ReferencesStep(%s, %s) = %v, want %v", c.typ, c.name, got, c.want)
		}
	}
	rb, diags = LoadSources(".", map[string][]byte{"main.hcl": []byte(`runbook "r" {}
locals {
  all = step
}
step "file" "a" {
  path    = "a"
  content = "a"
}
`)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if !rb.ReferencesStep("file", "a") {
		t.Error("a reference to all of step does not keep step.file.a")
	}
}
