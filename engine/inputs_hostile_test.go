package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
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

	// A device never ends: it is read no further than the limit.
	if _, err := os.Stat("/dev/zero"); err == nil {
		wantDiag(t, planDiags(t, h, listVar, Inputs{Files: []string{"/dev/zero"}}), "Cannot read variable file", "too large")
	}

	h.e.Getenv = func(k string) string {
		if k == "REBIND_VAR_users" {
			return deep
		}
		return ""
	}
	wantDiag(t, planDiags(t, h, listVar, Inputs{}), "Nested too deeply", "REBIND_VAR_users")
}

const numberVar = header + `
variable "n" {
  type = number
}

step "test_number" "n" {
  n = var.n
}
`

// TestNumbersOutOfRangeAreErrors gives numbers no plan can hold through
// every way in: -var 1e999999999 made the planner panic (JSON has no
// +Inf) and -var 1e-999999999 silently became 0. Each is an error that
// names the variable, or the file and line it came from.
func TestNumbersOutOfRangeAreErrors(t *testing.T) {
	h := newHarness(t)
	for _, text := range []string{"1e999999999", "-1e999999999", "1e-999999999", "1e99999999", "1e400"} {
		diags := planDiags(t, h, numberVar, Inputs{Vars: map[string]string{"n": text}})
		wantDiag(t, diags, "Invalid value for variable", `"n"`)
		if !strings.Contains(diags.Error(), "64-bit float") {
			t.Errorf("-var n=%s: the error does not say why: %s", text, diags.Error())
		}
	}
	// Ten million digits took go-cty two minutes to read.
	long := strings.Repeat("7", 10_000_000)
	wantDiag(t, planDiags(t, h, numberVar, Inputs{Vars: map[string]string{"n": long}}), "Invalid value for variable", "10000000 characters")
	h.e.Getenv = func(k string) string {
		if k == "REBIND_VAR_n" {
			return "1e999999999"
		}
		return ""
	}
	wantDiag(t, planDiags(t, h, numberVar, Inputs{}), "Invalid value for variable", `"n"`)
	h.e.Getenv = func(string) string { return "" }

	for name, content := range map[string]string{
		"vars.hcl":  "n = 1e999999999\n",
		"tiny.hcl":  "n = 1e-999999999\n",
		"vars.json": `{"n": 1e999999999}`,
		"tiny.json": `{"n": 1e-999999999}`,
		"long.hcl":  "n = " + long[:2000] + "\n",
		"long.json": `{"n": ` + long + `}`,
	} {
		f := filepath.Join(h.dir, name)
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		wantDiag(t, planDiags(t, h, numberVar, Inputs{Files: []string{f}}), "Number out of range", f)
	}

	listOfNumbers := header + `
variable "ns" {
  type = list(number)
}
`
	wantDiag(t, planDiags(t, h, listOfNumbers, Inputs{Vars: map[string]string{"ns": "[1, 1e999999999]"}}), "Number out of range", "-var ns")
	h.e.Getenv = func(k string) string {
		if k == "REBIND_VAR_ns" {
			return `[1, "1e-999999999"]`
		}
		return ""
	}
	wantDiag(t, planDiags(t, h, listOfNumbers, Inputs{}), "Invalid value for variable", "[1]")
}

// TestComputedNumbersOutOfRangeAreErrors makes numbers no plan can hold
// with expressions: each is an error at the expression.
func TestComputedNumbersOutOfRangeAreErrors(t *testing.T) {
	h := newHarness(t)
	for expr, summary := range map[string]string{
		`pow(10, 99999)`:                                      "Error in function call",
		`tonumber("1e999999999")`:                             "Error in function call",
		`jsondecode("[1e999999999]")[0]`:                      "Error in function call",
		`parseint(join("", [for i in range(400) : "9"]), 10)`: "Error in function call",
		`1e300 * 1e300`:                                       "Number out of range",
		`"1e999999999"`:                                       "Number out of range",
		`length(["a"]) * 1e308 * 10`:                          "Number out of range",
	} {
		diags := planDiags(t, h, header+"\nstep \"test_number\" \"n\" {\n  n = "+expr+"\n}\n", Inputs{})
		var found *hcl.Diagnostic
		for _, d := range diags {
			if d.Summary == summary {
				found = d
			}
		}
		if found == nil || found.Subject == nil || found.Subject.Start.Line != 4 {
			t.Errorf("%s: want %q at line 4, got:\n%s", expr, summary, diags.Error())
		}
	}
	// In a template the number would become text: still refused.
	diags := planDiags(t, h, header+"\nstep \"test_value\" \"v\" {\n  key = \"k\"\n  value = \"${pow(10, 99999)}\"\n}\n", Inputs{})
	wantDiag(t, diags, "Error in function call", "pow")
}

func init() { steps.Register(numberType{}) }

// numberType ("test_number") shows its one number argument in the plan,
// as a step that echoes an argument into its change does.
type numberType struct{}

func (numberType) Info() steps.Info {
	return steps.Info{Name: "test_number", Doc: "Test: shows a number.", Kind: steps.KindEnsure,
		Schema: steps.Schema{"n": {Type: cty.Number, Required: true}}, Reversibility: steps.Reversible}
}

func (numberType) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	return steps.Observation{Object: "test:number", Value: cty.EmptyObjectVal}, nil
}

func (numberType) Diff(ctx context.Context, c steps.Call, obs steps.Observation) (steps.Change, error) {
	return steps.Change{Action: steps.Create, After: cty.ObjectVal(map[string]cty.Value{"n": c.Config.GetAttr("n")})}, nil
}

func (numberType) Apply(ctx context.Context, c steps.Call, ch steps.Change) (steps.Result, error) {
	return steps.Result{}, errors.New("test_number: plan only")
}

// TestInputsTooLargeToParseAreRefused: parsing costs hcl and go-cty about
// 1 KB a value, so a 1 MiB JSON array of numbers took 480 MB. A JSON file
// of more than 100,000 values and an HCL variable file over 256 KiB are
// refused before they are parsed.
func TestInputsTooLargeToParseAreRefused(t *testing.T) {
	h := newHarness(t)
	dense := filepath.Join(h.dir, "dense.json")
	if err := os.WriteFile(dense, []byte(`{"users": [`+strings.Repeat("1,", 500_000)+`1]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	wantDiag(t, planDiags(t, h, listVar, Inputs{Files: []string{dense}}), "Too many values", dense)
	big := filepath.Join(h.dir, "big.hcl")
	if err := os.WriteFile(big, []byte("users = ["+strings.Repeat("1,", 200_000)+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantDiag(t, planDiags(t, h, listVar, Inputs{Files: []string{big}}), "Variable file too large", big)
}

// TestLongListsConvertInLinearTime: go-cty unifies a tuple's element
// types pairwise, so a list variable of half a million elements from a
// JSON file took more than fifteen minutes to convert. The conversion is
// the same, done element by element.
func TestLongListsConvertInLinearTime(t *testing.T) {
	elems := make([]cty.Value, 90_000)
	for i := range elems {
		elems[i] = cty.StringVal("u")
		if i%3 == 0 {
			elems[i] = cty.NumberIntVal(int64(i))
		}
	}
	for _, tc := range []struct {
		ty   cty.Type
		want cty.Type
	}{
		{cty.List(cty.DynamicPseudoType), cty.List(cty.String)},
		{cty.List(cty.String), cty.List(cty.String)},
		{cty.Set(cty.String), cty.Set(cty.String)},
	} {
		got, err := convertInput(cty.TupleVal(elems), tc.ty)
		if err != nil || !got.Type().Equals(tc.want) || got.LengthInt() != len(elems) && !tc.want.IsSetType() {
			t.Errorf("%s: %#v, %v", tc.ty.FriendlyName(), got.Type(), err)
		}
	}
	obj := cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x"), "b": cty.NumberIntVal(1)})
	got, err := convertInput(obj, cty.Map(cty.String))
	if err != nil || !got.RawEquals(cty.MapVal(map[string]cty.Value{"a": cty.StringVal("x"), "b": cty.StringVal("1")})) {
		t.Errorf("map: %#v, %v", got, err)
	}
	mixed := make([]cty.Value, 200)
	for i := range mixed {
		mixed[i] = cty.ObjectVal(map[string]cty.Value{fmt.Sprintf("k%d", i): cty.True})
	}
	if _, err := convertInput(cty.TupleVal(mixed), cty.List(cty.DynamicPseudoType)); err == nil || !strings.Contains(err.Error(), "different types") {
		t.Errorf("200 element types: %v", err)
	}
}
