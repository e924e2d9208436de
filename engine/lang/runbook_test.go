package lang

import (
	"testing"

	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/zclconf/go-cty/cty"
)

// TestRunbookValidation evaluates a loaded runbook's variable validation
// and locals with the runbook functions, as the engine does before planning.
func TestRunbookValidation(t *testing.T) {
	rb, diags := runbook.LoadSources("testdata", map[string][]byte{"main.hcl": []byte(`
runbook "relink" {}

variable "guid" {
  type = string
  pii  = true
  validation {
    condition     = can(immutable_id(var.guid))
    error_message = "The GUID ${var.guid} is not a GUID."
  }
}

locals {
  anchor = immutable_id(var.guid)
}
`)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	v := rb.Variables[0]
	for _, tc := range []struct {
		guid string
		want CheckResult
	}{
		{"1effbc1e-4aa3-4f9d-a508-d4d81f1f5873", Pass},
		{"EMP-1234", Fail},
	} {
		ctx := checkContext()
		ctx.Variables["var"] = cty.ObjectVal(map[string]cty.Value{"guid": MarkPII(cty.StringVal(tc.guid))})
		got, diags := EvalCheck(ctx, v.Validations[0], "Validation")
		if got != tc.want {
			t.Errorf("%s: %s, want %s (%v)", tc.guid, got, tc.want, diags)
		}
		if got == Fail && (diags[0].Summary != "Validation failed" || diags[0].Detail != "The GUID EMP-1234 is not a GUID.") {
			t.Errorf("%s: diagnostic %q: %q", tc.guid, diags[0].Summary, diags[0].Detail)
		}
		if got != Pass {
			continue
		}
		anchor, diags := rb.Locals[0].Expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if !HasPII(anchor) || !Redact(anchor, false).RawEquals(cty.StringVal("Hrz/HqNKnU+lCNTYHx9Ycw==")) || !Redact(anchor, true).RawEquals(cty.StringVal("(pii)")) {
			t.Errorf("local.anchor = %#v, want the PII-marked immutable ID", anchor)
		}
	}
}
