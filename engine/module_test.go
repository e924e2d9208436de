package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

// setModule is a module that sets a key and says what it wrote.
const setModule = `
variable "key" { type = string }
variable "value" {
  type    = string
  default = "on"
}

data "test_read" "before" {
  key = var.key
}

step "test_value" "set" {
  key   = var.key
  value = var.value
}

output "written" {
  value = step.test_value.set.result.written
}

output "was" {
  value = data.test_read.before.value
}
`

// moduleRunbook calls setModule once, then with for_each, and feeds an
// output to a later step.
const moduleRunbook = header + `
variable "keys" {
  type    = set(string)
  default = ["b", "c"]
}

step "test_value" "first" {
  key   = "a"
  value = "1"
}

module "one" {
  source = "./modules/set"
  key    = "x"
}

module "many" {
  source   = "./modules/set"
  for_each = var.keys
  key      = "m-${each.key}"
  value    = "v-${each.key}"
}

step "test_value" "last" {
  key   = "out"
  value = "${module.one.written}+${module.many["c"].written}"
}
`

func moduleSources(root string, mods map[string]string) map[string][]byte {
	src := map[string][]byte{"main.hcl": []byte(root)}
	for k, v := range mods {
		src[k] = []byte(v)
	}
	return src
}

func (h *harness) loadSources(src map[string][]byte) (*runbook.Runbook, hcl.Diagnostics) {
	return runbook.LoadSources(h.dir, src)
}

// mustLoad loads the runbook of src, failing the test on an error.
func (h *harness) mustLoad(src map[string][]byte) *runbook.Runbook {
	h.t.Helper()
	rb, diags := h.loadSources(src)
	if diags.HasErrors() {
		h.t.Fatal(diags)
	}
	return rb
}

// Modules: module steps get module.NAME(.KEY) addresses, run where the
// module block stands, their outputs feed a later step, and a rollback
// reverts them as it reverts inline steps.
func TestModulePlanApplyRollback(t *testing.T) {
	h := newHarness(t)
	theWorld.set("x", "old")
	rb := h.mustLoad(moduleSources(moduleRunbook, map[string]string{"modules/set/main.hcl": setModule}))
	ctx := context.Background()
	p, diags := h.e.Plan(ctx, rb, Inputs{}, PlanOptions{Author: "tester"})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var addrs []string
	for _, st := range p.Steps {
		addrs = append(addrs, st.Address)
	}
	want := []string{
		"module.one.data.test_read.before",
		`module.many["b"].data.test_read.before`,
		`module.many["c"].data.test_read.before`,
		"step.test_value.first",
		"module.one.step.test_value.set",
		`module.many["b"].step.test_value.set`,
		`module.many["c"].step.test_value.set`,
		"step.test_value.last",
	}
	if strings.Join(addrs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan steps:\n%s\nwant:\n%s", strings.Join(addrs, "\n"), strings.Join(want, "\n"))
	}
	if _, ok := p.Runbook.Sources["modules/set/main.hcl"]; !ok {
		t.Errorf("the plan does not carry the module's source: %v", p.Runbook.Sources)
	}
	// The output of a module that has not run is known after apply.
	last := p.Steps[7].Instances[0]
	if last.Action != plan.ActionDeferred && !strings.Contains(string(last.After), plan.Unknown) {
		t.Errorf("last step planned as %s %s, want its value known after apply", last.Action, last.After)
	}
	rep, diags := h.e.Apply(ctx, p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded {
		t.Fatalf("apply: %v %+v\n%s", diags, rep, h.log.String())
	}
	for k, v := range map[string]string{"a": "1", "x": "on", "m-b": "v-b", "m-c": "v-c", "out": "on+v-c"} {
		if got := theWorld.get(k); got != v {
			t.Errorf("world[%s] = %q, want %q", k, got, v)
		}
	}
	sum, err := h.e.Store.Summary(ctx, rep.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var journaled []string
	for _, s := range sum {
		journaled = append(journaled, s.Step)
	}
	if !strings.Contains(strings.Join(journaled, " "), `module.many["c"].step.test_value.set`) {
		t.Errorf("the journal's steps are %v", journaled)
	}
	rollBack(t, h, rep.RunID, Inputs{})
	for k, v := range map[string]string{"a": "", "x": "old", "m-b": "", "m-c": "", "out": ""} {
		if got := theWorld.get(k); got != v {
			t.Errorf("after rollback world[%s] = %q, want %q", k, got, v)
		}
	}
}

func (h *harness) planSources(src map[string][]byte) *plan.Plan {
	h.t.Helper()
	p, diags := h.e.Plan(context.Background(), h.mustLoad(src), Inputs{}, PlanOptions{Author: "tester"})
	if diags.HasErrors() {
		h.t.Fatal(diags)
	}
	return p
}

// An approve gate inside a module pauses the run at its module address;
// approving that address and resuming goes on, as for an inline gate.
func TestModuleApproveGate(t *testing.T) {
	h := newHarness(t)
	p := h.planSources(moduleSources(header+`
module "gated" {
  source = "./gate"
}
`, map[string]string{"gate/main.hcl": `
step "test_value" "a" {
  key   = "a"
  value = "1"
}
step "approve" "hold" {
  message = "Check before b."
}
step "test_value" "b" {
  key   = "b"
  value = "2"
}
`}))
	ctx := context.Background()
	rep, diags := h.e.Apply(ctx, p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() || rep.Status != journal.StatusPaused || rep.PausedAt != "module.gated.step.approve.hold" {
		t.Fatalf("apply: %v status %s paused at %q", diags, rep.Status, rep.PausedAt)
	}
	if theWorld.get("b") != "" {
		t.Fatal("b written before the approval")
	}
	if _, err := h.e.ApproveStep(ctx, rep.RunID, "step.approve.hold", "carol"); err == nil || !strings.Contains(err.Error(), "module.gated.step.approve.hold") {
		t.Errorf("approving the gate without its module path: %v, want a refusal naming the real gate", err)
	}
	if _, err := h.e.ApproveStep(ctx, rep.RunID, "module.gated.step.approve.hold", "carol"); err != nil {
		t.Fatal(err)
	}
	rep, diags = h.e.Resume(ctx, rep.RunID, Inputs{}, ResumeOptions{})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded {
		t.Fatalf("resume: %v %+v", diags, rep)
	}
	if theWorld.get("b") != "2" || theWorld.count(theWorld.applies, "a") != 1 {
		t.Errorf("b=%q applies(a)=%d", theWorld.get("b"), theWorld.count(theWorld.applies, "a"))
	}
}

// A run interrupted inside a module leaves the module's action in doubt at
// its module address; resume asks, and --done settles it.
func TestModuleInterruptAndResume(t *testing.T) {
	h := newHarness(t)
	p := h.planSources(moduleSources(header+`
module "m" {
  source = "./m"
}
`, map[string]string{"m/main.hcl": strings.TrimPrefix(stopRunbook("block", ""), header)}))
	rep, diags := h.e.Apply(interruptible(t), p, Inputs{}, ApplyOptions{})
	const act = "module.m.step.test_stop.act"
	if diags.HasErrors() || rep.Status != journal.StatusFailed || len(rep.InDoubt) != 1 || rep.InDoubt[0] != act {
		t.Fatalf("apply: %v status %s in doubt %v", diags, rep.Status, rep.InDoubt)
	}
	ctx := context.Background()
	again, diags := h.e.Resume(ctx, rep.RunID, Inputs{}, ResumeOptions{})
	if diags.HasErrors() || len(again.InDoubt) != 1 || again.InDoubt[0] != act {
		t.Fatalf("resume: %v, in doubt %v", diags, again.InDoubt)
	}
	done, diags := h.e.Resume(ctx, rep.RunID, Inputs{}, ResumeOptions{Decide: map[string]string{act: "done"}})
	if diags.HasErrors() || done.Status != journal.StatusSucceeded {
		t.Fatalf("resume --done: %v %+v", diags, done)
	}
	if theWorld.count(theWorld.runs, "act") != 1 || theWorld.get("b") != "2" || theWorld.count(theWorld.applies, "a") != 1 {
		t.Errorf("runs(act)=%d b=%q applies(a)=%d", theWorld.count(theWorld.runs, "act"), theWorld.get("b"), theWorld.count(theWorld.applies, "a"))
	}
}

// The plan carries the module's sources inside its digest: a module edited
// in the plan after review is refused as altered, and one edited on disk
// after review does not run (the reviewed copy does).
func TestModuleSourcesInDigest(t *testing.T) {
	h := newHarness(t)
	mods := map[string]string{"modules/set/main.hcl": setModule}
	p := h.planSources(moduleSources(moduleRunbook, mods))
	q := tamper(t, p, func(m map[string]any) {
		src := m["runbook"].(map[string]any)["sources"].(map[string]any)
		src["modules/set/main.hcl"] = strings.Replace(setModule, "value = var.value", `value = "evil"`, 1)
	})
	rep, diags := h.e.Apply(context.Background(), q, Inputs{}, ApplyOptions{Saved: true, Policy: approveAll(t, q)})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "digest") {
		t.Fatalf("a plan whose module source was edited applied: %v %+v", diags, rep)
	}
	if theWorld.get("x") != "" {
		t.Fatal("the altered plan wrote")
	}
	rep, diags = h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{Saved: true, Policy: approveAll(t, p)})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded || theWorld.get("x") != "on" {
		t.Fatalf("the reviewed plan: %v %+v x=%q", diags, rep, theWorld.get("x"))
	}
}

// validate checks a module input against its variable's type, at the
// input's file and line.
func TestModuleValidateInputType(t *testing.T) {
	h := newHarness(t)
	rb := h.mustLoad(moduleSources(header+`
module "m" {
  source = "./m"
  n      = "not a number"
}
`, map[string]string{"m/main.hcl": `
variable "n" { type = number }
step "test_value" "a" {
  key   = "k${var.n}"
  value = "1"
}
`}))
	diags := h.e.Validate(rb)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "main.hcl:5,12-26: Invalid module input") {
		t.Fatalf("validate: %v", diags)
	}
}

// The text rendering says where each module instance begins and ends.
func TestModulePlanRendering(t *testing.T) {
	h := newHarness(t)
	p := h.planSources(moduleSources(moduleRunbook, map[string]string{"modules/set/main.hcl": setModule}))
	var text, md strings.Builder
	if err := plan.RenderText(&text, p, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{
		"-- module.one --\n<= module.one.data.test_read.before",
		"-- end of module.one --\n-- module.many[\"b\"] --",
		"-- end of module.many[\"c\"] --\n+  step.test_value.first",
		"-- module.one --\n+  module.one.step.test_value.set",
		"Modules:\n  module.one: 2 blocks, from module.one.data.test_read.before to module.one.step.test_value.set\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text rendering lacks %q:\n%s", want, out)
		}
	}
	if err := plan.RenderMarkdown(&md, p, plan.RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "#### Modules\n\n- module.one: 2 blocks") {
		t.Errorf("markdown rendering lacks the modules:\n%s", md.String())
	}
}

// A module variable's validation blocks check what its caller passes, at
// the input's line.
func TestModuleInputValidation(t *testing.T) {
	h := newHarness(t)
	rb := h.mustLoad(moduleSources(header+`
module "m" {
  source = "./m"
  key    = "BAD"
}
`, map[string]string{"m/main.hcl": `
variable "key" {
  type = string
  validation {
    condition     = lower(var.key) == var.key
    error_message = "key must be lower case, not ${var.key}."
  }
}
step "test_value" "a" {
  key   = var.key
  value = "1"
}
`}))
	_, diags := h.e.Plan(context.Background(), rb, Inputs{}, PlanOptions{Author: "tester"})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "main.hcl:5,12-17: Invalid module input") || !strings.Contains(diags.Error(), "key must be lower case, not BAD.") {
		t.Fatalf("plan: %v", diags)
	}
	if theWorld.get("BAD") != "" {
		t.Fatal("wrote")
	}
}

// whereType ("test_where") is a data type that reads which test_dir
// target it was given: its root.
type whereType struct{ readType }

func (whereType) Info() steps.Info {
	return steps.Info{Name: "test_where", Doc: "Test: reads its target's root.", Kind: steps.KindData, Target: "test_dir",
		Schema: steps.Schema{"key": {Type: cty.String}}}
}

func (whereType) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	cfg := c.Target.(cty.Value)
	return steps.Observation{Object: "where", Value: cty.ObjectVal(map[string]cty.Value{"root": cfg.GetAttr("root")})}, nil
}

func init() { steps.RegisterData(whereType{}) }

// A module's targets are its caller's of the same type and name, unless
// the call passes another in targets = {} (as Terraform passes providers
// to modules); a module target the caller lacks is named at the call.
func TestModuleTargets(t *testing.T) {
	mod := map[string]string{"m/main.hcl": `
target "test_dir" "corp" {}
data "test_where" "here" {
  target = target.test_dir.corp
}
output "root" { value = data.test_where.here.root }
`}
	root := header + `
target "test_dir" "corp" { root = "/corp" }
target "test_dir" "lab" { root = "/lab" }
module "same" {
  source = "./m"
}
module "passed" {
  source  = "./m"
  targets = { "test_dir.corp" = target.test_dir.lab }
}
step "test_value" "roots" {
  key   = "roots"
  value = "${module.same.root} ${module.passed.root}"
}
`
	h := newHarness(t)
	p := h.planSources(moduleSources(root, mod))
	rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded || theWorld.get("roots") != "/corp /lab" {
		t.Fatalf("apply: %v %+v roots=%q", diags, rep, theWorld.get("roots"))
	}

	rb := h.mustLoad(moduleSources(header+`
target "test_dir" "other" { root = "/o" }
module "lacking" {
  source = "./m"
}
`, mod))
	diags = h.e.Validate(rb)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `main.hcl:4,1-17: Missing module target`) || !strings.Contains(diags.Error(), `pass one in targets = { "test_dir.corp" = target.test_dir.NAME }`) {
		t.Fatalf("validate: %v", diags)
	}
}

// An object a module's step changes that someone else changed after review
// is drift, named by its module address, and nothing is written.
func TestModuleDrift(t *testing.T) {
	h := newHarness(t)
	theWorld.set("x", "old")
	p := h.planSources(moduleSources(moduleRunbook, map[string]string{"modules/set/main.hcl": setModule}))
	theWorld.set("m-c", "someone else")
	rep, _ := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	var drifted []string
	for _, d := range rep.Drift {
		drifted = append(drifted, d.Address)
	}
	if !strings.Contains(strings.Join(drifted, " "), `module.many["c"].step.test_value.set`) {
		t.Fatalf("drift = %v, want module.many[\"c\"].step.test_value.set among it", drifted)
	}
	if theWorld.count(theWorld.applies, "a") != 0 || theWorld.get("x") != "old" {
		t.Error("wrote despite drift")
	}
}
