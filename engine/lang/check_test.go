package lang

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/zclconf/go-cty/cty"
)

func parseExpr(t *testing.T, src string) hcl.Expression {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "main.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags.Error())
	}
	return expr
}

func checkContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: Functions("."),
		Variables: map[string]cty.Value{
			"self": cty.ObjectVal(map[string]cty.Value{
				"observed": cty.ObjectVal(map[string]cty.Value{
					"deleted_days_left": cty.NumberIntVal(0),
					"upn":               MarkPII(cty.StringVal("alice@contoso.com")),
				}),
				"result": cty.DynamicVal,
			}),
			"var": cty.ObjectVal(map[string]cty.Value{
				"password": MarkSensitive(cty.StringVal("hunter2")),
				"flag":     cty.NullVal(cty.Bool),
				"yes":      cty.StringVal("true"),
			}),
		},
	}
}

func TestEvalCheck(t *testing.T) {
	tests := []struct {
		condition, message string
		want               CheckResult
		summary, detail    string
	}{
		{`self.observed.deleted_days_left >= 0`, `"unused"`, Pass, "", ""},
		{`var.yes`, `"unused"`, Pass, "", ""}, // "true" converts to bool
		{`self.result.id != ""`, `"unused"`, Deferred, "", ""},
		{
			`self.observed.deleted_days_left > 0`,
			`"The cloud user left the 30-day recycle bin; it cannot be restored."`,
			Fail, "Precondition failed", "The cloud user left the 30-day recycle bin; it cannot be restored.",
		},
		{
			`self.observed.upn == "bob@contoso.com"`, `"${self.observed.upn} is not Bob."`,
			Fail, "Precondition failed", "alice@contoso.com is not Bob.",
		},
		{
			`var.password == "x"`, `"The password ${var.password} is wrong."`,
			Fail, "Precondition failed", "sensitive values, so it is not shown",
		},
		{
			`self.observed.deleted_days_left > 0`, `self.nope`,
			Fail, "Precondition failed", "its error message could not be evaluated",
		},
		{
			`self.observed.deleted_days_left > 0`, `["not", "a", "string"]`,
			Fail, "Precondition failed", "its error message could not be evaluated",
		},
		{`var.flag`, `"unused"`, Fail, "Invalid condition result", "returned null"},
		{`self.observed`, `"unused"`, Fail, "Invalid condition result", "must return true or false"},
		{`self.missing`, `"unused"`, Fail, "Unsupported attribute", ""},
	}
	for _, tc := range tests {
		c := &runbook.Check{Condition: parseExpr(t, tc.condition), ErrorMessage: parseExpr(t, tc.message)}
		got, diags := EvalCheck(checkContext(), c, "Precondition")
		if got != tc.want {
			t.Errorf("%s: result %s, want %s (%v)", tc.condition, got, tc.want, diags)
			continue
		}
		if tc.want != Fail {
			if len(diags) != 0 {
				t.Errorf("%s: unexpected diagnostics %v", tc.condition, diags)
			}
			continue
		}
		d := diags[len(diags)-1]
		if d.Summary != tc.summary || !strings.Contains(d.Detail, tc.detail) || d.Subject == nil {
			t.Errorf("%s: diagnostic %q: %q at %v, want %q containing %q", tc.condition, d.Summary, d.Detail, d.Subject, tc.summary, tc.detail)
		}
		if strings.Contains(diags.Error(), "hunter2") {
			t.Errorf("%s: the secret is shown: %s", tc.condition, diags.Error())
		}
	}
}

// TestEvalCheckShowsValues checks that a failed condition renders with the
// values it used, as an operator reading the plan needs, and skips marked
// ones.
func TestEvalCheckShowsValues(t *testing.T) {
	src := []byte(`self.observed.deleted_days_left > 0 && var.password != ""`)
	file, diags := hclsyntax.ParseConfig([]byte("x = "+string(src)+"\n"), "main.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	attrs, _ := file.Body.JustAttributes()
	c := &runbook.Check{Condition: attrs["x"].Expr, ErrorMessage: parseExpr(t, `"Gone."`)}
	result, diags := EvalCheck(checkContext(), c, "Postcondition")
	if result != Fail || len(diags) != 1 || diags[0].Summary != "Postcondition failed" {
		t.Fatalf("got %s, %v", result, diags)
	}
	if diags[0].Expression == nil || diags[0].EvalContext == nil {
		t.Fatal("the diagnostic lacks Expression or EvalContext")
	}
	var buf bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&buf, map[string]*hcl.File{"main.hcl": file}, 100, false)
	if err := w.WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "self.observed.deleted_days_left as 0") {
		t.Errorf("rendering lacks the value involved:\n%s", out)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("rendering shows the secret:\n%s", out)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		expr string
		want time.Duration
		err  string
	}{
		{`"90s"`, 90 * time.Second, ""},
		{`"3h"`, 3 * time.Hour, ""},
		{`"30d"`, 30 * 24 * time.Hour, ""},
		{`"1d12h"`, 36 * time.Hour, ""},
		{`"1.5d"`, 36 * time.Hour, ""},
		{`" 5m "`, 5 * time.Minute, ""},
		{`"0s"`, 0, ""},
		{`null`, 0, ""},
		{`"soon"`, 0, `"soon" is not a duration`},
		{`"3 days"`, 0, `is not a duration`},
		{`""`, 0, "empty"},
		{`"-1h"`, 0, "negative"},
		{`"99999999999d"`, 0, "not a number of days"},
		{`["1h"]`, 0, "must be a duration string"},
		{`unknown`, 0, "not known yet"},
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"unknown": cty.UnknownVal(cty.String)}}
	for _, tc := range tests {
		got, diags := ParseDuration(ctx, parseExpr(t, tc.expr), "await")
		if tc.err == "" {
			if diags.HasErrors() || got != tc.want {
				t.Errorf("%s = %s, %v; want %s", tc.expr, got, diags, tc.want)
			}
			continue
		}
		if !diags.HasErrors() || !strings.Contains(diags[0].Detail, tc.err) || !strings.Contains(diags[0].Summary, "await") {
			t.Errorf("%s: diags %v, want an await error containing %q", tc.expr, diags, tc.err)
		}
	}
	if d, diags := ParseDuration(nil, nil, "timeout"); d != 0 || diags != nil {
		t.Errorf("nil expression = %s, %v", d, diags)
	}
}

func TestParseMaxErrors(t *testing.T) {
	tests := []struct {
		expr    string
		count   int
		percent float64
		err     string
	}{
		{`3`, 3, 0, ""},
		{`"3"`, 3, 0, ""},
		{`"10%"`, 0, 10, ""},
		{`"12.5 %"`, 0, 12.5, ""},
		{`0`, 0, 0, ""},
		{`null`, 0, 0, ""},
		{`-1`, 0, 0, "whole number"},
		{`1.5`, 0, 0, "whole number"},
		{`"150%"`, 0, 0, "from 0 to 100"},
		{`"ten"`, 0, 0, "percentage such as"},
		{`true`, 0, 0, "percentage such as"},
	}
	for _, tc := range tests {
		count, percent, diags := ParseMaxErrors(nil, parseExpr(t, tc.expr))
		if tc.err == "" {
			if diags.HasErrors() || count != tc.count || percent != tc.percent {
				t.Errorf("%s = %d, %g, %v; want %d, %g", tc.expr, count, percent, diags, tc.count, tc.percent)
			}
			continue
		}
		if !diags.HasErrors() || !strings.Contains(diags[0].Detail, tc.err) || diags[0].Subject == nil {
			t.Errorf("%s: diags %v, want an error containing %q", tc.expr, diags, tc.err)
		}
	}
}
