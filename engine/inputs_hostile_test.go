package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// planDiags plans src with in and returns the diagnostics; a panic fails
// the test with what it said.
func planDiags(t *testing.T, h *harness, src string, in Inputs) hcl.Diagnostics {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("plan panicked: %v", r)
		}
	}()
	_, diags := h.e.Plan(context.Background(), h.load(src), in, PlanOptions{Author: "tester"})
	return diags
}

// wantDiag fails unless diags hold an error with summary whose Subject or
// Detail mentions where.
func wantDiag(t *testing.T, diags hcl.Diagnostics, summary, where string) {
	t.Helper()
	for _, d := range diags {
		if d.Severity != hcl.DiagError || d.Summary != summary {
			continue
		}
		if d.Subject != nil && strings.Contains(d.Subject.Filename, where) || strings.Contains(d.Detail, where) {
			return
		}
	}
	t.Errorf("no %q error naming %q; got:\n%s", summary, where, diags.Error())
}

const listVar = header + `
variable "users" {
  type = list(any)
}
`

// TestDeeplyNestedInputsAreRefused gives 100,000 nested brackets in a
// -var value, a -var-file (HCL and JSON) and REBIND_VAR_: the parser would
// overflow its stack; each is refused with its source named.
func TestDeeplyNestedInputsAreRefused(t *testing.T) {
	h := newHarness(t)
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)

	wantDiag(t, planDiags(t, h, listVar, Inputs{Vars: map[string]string{"users": deep}}), "Nested too deeply", "-var users")

	hclFile := filepath.Join(h.dir, "vars.hcl")
	jsonFile := filepath.Join(h.dir, "vars.json")
	if err := os.WriteFile(hclFile, []byte("users = "+deep+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jsonFile, []byte(`{"users": `+deep+"}"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantDiag(t, planDiags(t, h, listVar, Inputs{Files: []string{hclFile}}), "Nested too deeply", hclFile)
	wantDiag(t, planDiags(t, h, listVar, Inputs{Files: []string{jsonFile}}), "Nested too deeply", jsonFile)

	h.e.Getenv = func(k string) string {
		if k == "REBIND_VAR_users" {
			return deep
		}
		return ""
	}
	wantDiag(t, planDiags(t, h, listVar, Inputs{}), "Nested too deeply", "REBIND_VAR_users")
}
