package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	_ "github.com/rebind-dev/rebind/steps/core"
)

// harness is an engine over a fresh journal and work dir.
type harness struct {
	t   *testing.T
	e   *Engine
	dir string
	log bytes.Buffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	theWorld.reset()
	dir := t.TempDir()
	store, err := journal.Open(filepath.Join(dir, ".rebind"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h := &harness{t: t, dir: dir}
	h.e = &Engine{Store: store, WorkDir: dir, Log: &h.log, PollInterval: 5 * time.Millisecond,
		Getenv: func(string) string { return "" }}
	return h
}

func (h *harness) load(src string) *runbook.Runbook {
	h.t.Helper()
	rb, diags := runbook.LoadSources(h.dir, map[string][]byte{"main.hcl": []byte(src)})
	if diags.HasErrors() {
		h.t.Fatalf("load: %s", diags.Error())
	}
	return rb
}

func (h *harness) plan(src string, vars map[string]string) *plan.Plan {
	h.t.Helper()
	p, diags := h.e.Plan(context.Background(), h.load(src), Inputs{Vars: vars}, PlanOptions{Author: "tester"})
	if diags.HasErrors() {
		h.t.Fatalf("plan: %s", diags.Error())
	}
	return p
}

func (h *harness) apply(src string, vars map[string]string) *Report {
	h.t.Helper()
	p := h.plan(src, vars)
	rep, diags := h.e.Apply(context.Background(), p, Inputs{Vars: vars}, ApplyOptions{})
	if diags.HasErrors() {
		h.t.Fatalf("apply: %s\nlog:\n%s", diags.Error(), h.log.String())
	}
	return rep
}

func (h *harness) file(name string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(h.dir, name))
	if err != nil {
		return "", false
	}
	return string(b), true
}

const header = `runbook "t" { title = "test" }
`

// valueStep is the HCL of a test_value step name that writes value at
// key, with attrs (such as "fail = true") inside its block.
func valueStep(name, key, value string, attrs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nstep \"test_value\" %q {\n  key   = %q\n  value = %q\n", name, key, value)
	for _, a := range attrs {
		b.WriteString("  " + a + "\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// engineCase is one runbook taken through the engine: the world and files
// it starts from, its plan, what changes between plan and apply, the apply,
// and what must hold after it (including the rollback, resume or second
// apply that follows).
type engineCase struct {
	name string
	// setup prepares theWorld and the work dir before the plan.
	setup func(t *testing.T, h *harness)
	src   string
	vars  map[string]string
	// planErr, when set, holds what the failed plan must say; the case
	// ends there.
	planErr []string
	// planned checks the plan before it is applied.
	planned func(t *testing.T, h *harness, p *plan.Plan)
	// between changes the world after the plan was made.
	between func(h *harness)
	// saved applies the plan as a saved plan file (apply-once).
	saved bool
	// applyErr, when set, holds what the refused apply must say.
	applyErr []string
	// status is how the apply must end ("" leaves it to check).
	status journal.RunStatus
	// check asserts the rest, and drives what follows the apply.
	check func(t *testing.T, h *harness, p *plan.Plan, rep *Report)
}

func (c engineCase) run(t *testing.T) {
	h := newHarness(t)
	if c.setup != nil {
		c.setup(t, h)
	}
	ctx := context.Background()
	p, diags := h.e.Plan(ctx, h.load(c.src), Inputs{Vars: c.vars}, PlanOptions{Author: "tester"})
	if len(c.planErr) > 0 {
		for _, want := range c.planErr {
			if !diags.HasErrors() || !strings.Contains(diags.Error(), want) {
				t.Fatalf("plan: want an error saying %q, got %v", want, diags)
			}
		}
		return
	}
	if diags.HasErrors() {
		t.Fatalf("plan: %s", diags.Error())
	}
	if c.planned != nil {
		c.planned(t, h, p)
	}
	if c.between != nil {
		c.between(h)
	}
	rep, diags := h.e.Apply(ctx, p, Inputs{Vars: c.vars}, ApplyOptions{Saved: c.saved})
	if len(c.applyErr) > 0 {
		for _, want := range c.applyErr {
			if !diags.HasErrors() || !strings.Contains(diags.Error(), want) {
				t.Fatalf("apply: want an error saying %q, got %v", want, diags)
			}
		}
	} else if diags.HasErrors() {
		t.Fatalf("apply: %s\nlog:\n%s", diags.Error(), h.log.String())
	}
	if c.status != "" && rep.Status != c.status {
		t.Fatalf("status = %s, want %s\n%+v\nlog:\n%s", rep.Status, c.status, rep, h.log.String())
	}
	if c.check != nil {
		c.check(t, h, p, rep)
	}
}

func setWorld(kv ...string) func(*testing.T, *harness) {
	return func(*testing.T, *harness) {
		for i := 0; i+1 < len(kv); i += 2 {
			theWorld.set(kv[i], kv[i+1])
		}
	}
}

// rollBack rolls run back and fails unless it ends rolled back.
func rollBack(t *testing.T, h *harness, runID string, in Inputs) *Report {
	t.Helper()
	rb, diags := h.e.Rollback(context.Background(), runID, in)
	if diags.HasErrors() || rb.Status != journal.StatusRolledBack {
		t.Fatalf("rollback: %v %+v", diags, rb)
	}
	return rb
}

const retrySrc = header + `
step "test_value" "x" {
  key   = "x"
  value = "1"
  retry {
    attempts = 3
    backoff  = "1ms"
  }
}
`

func maxErrorsSrc(maxErrors string) string {
	return header + `
step "test_value" "many" {
  for_each        = toset(["a","b","c","d","e","f","g","h","i","j"])
  max_concurrency = 3
  max_errors      = ` + maxErrors + `
  key             = each.key
  value           = "v"
  fail            = contains(["c","f"], each.key)
  on_failure      = abort
}
`
}

var optionalDataSrc = header + `
data "test_lookup" "old" {
  key      = "old"
  optional = true
  postcondition {
    condition     = self.observed == null
    error_message = "the old object exists: restore it instead."
  }
}
step "test_value" "bind" {
  key   = "bind"
  value = data.test_lookup.old == null ? "new" : "old"
}
` + valueStep("boom", "boom", "x", `fail = true`, `on_failure = abort`)

// withheldEnvSrc is an exec whose env (built from a secret) the journal
// withholds, and whose undo still needs it.
var withheldEnvSrc = header + `
variable "token" {
  type      = string
  sensitive = true
}
step "exec" "mark" {
  command = ["sh", "-c", "printf %s \"$TOKEN\" > did.txt"]
  undo    = ["sh", "-c", "printf %s \"$TOKEN\" > undone.txt"]
  env     = { TOKEN = var.token }
}
` + valueStep("boom", "boom", "x", `fail = true`, `on_failure = abort`)

var withheldEnvFanOut = strings.Replace(withheldEnvSrc, `step "exec" "mark" {
  command = ["sh", "-c", "printf %s \"$TOKEN\" > did.txt"]
  undo    = ["sh", "-c", "printf %s \"$TOKEN\" > undone.txt"]
  env     = { TOKEN = var.token }`, `step "exec" "mark" {
  for_each = toset(["a", "b"])
  command  = ["sh", "-c", "printf %s \"$TOKEN\" > did-${each.key}.txt"]
  undo     = ["sh", "-c", "printf %s \"$TOKEN\" > undone-${each.key}.txt"]
  env      = { TOKEN = "${var.token}-${each.key}" }`, 1)

var withheldEnvFromStep = strings.Replace(strings.Replace(withheldEnvSrc, `step "exec" "mark" {`, valueStep("first", "first", "from-a-step")+`step "exec" "mark" {`, 1), `TOKEN = var.token`, `TOKEN = step.test_value.first.result.written`, 1)

var tokenVars = map[string]string{"token": "s3cret-token"}

// TestEngine takes runbooks of the test step types through plan and apply,
// one case per behaviour of the engine.
func TestEngine(t *testing.T) {
	cases := []engineCase{{
		name: "FailureRollsBackEveryFile",
		setup: func(t *testing.T, h *harness) {
			os.WriteFile(filepath.Join(h.dir, "keep.txt"), []byte("original\n"), 0o644)
		},
		src: header + `
step "file" "keep" {
  path    = "keep.txt"
  content = "changed\n"
}
step "file" "new" {
  path    = "new.txt"
  content = "created\n"
}
` + valueStep("boom", "k", "v", `fail = true`),
		status: journal.StatusRolledBack,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if got, _ := h.file("keep.txt"); got != "original\n" {
				t.Errorf("keep.txt = %q after rollback, want the original", got)
			}
			if _, ok := h.file("new.txt"); ok {
				t.Errorf("new.txt still exists after rollback")
			}
			if len(rep.Reverted) != 2 || rep.Reverted[0] != "step.file.new" || rep.Reverted[1] != "step.file.keep" {
				t.Errorf("reverted %v, want newest first [step.file.new step.file.keep]", rep.Reverted)
			}
			if len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0].Err, "k refused") {
				t.Errorf("failures = %+v", rep.Failures)
			}
		},
	}, {
		name: "OnFailureAbortLeavesCompletedSteps",
		src: header + `
step "file" "a" {
  path    = "a.txt"
  content = "a"
}
` + valueStep("boom", "k", "v", `fail = true`, `on_failure = abort`),
		status: journal.StatusFailed,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if got, _ := h.file("a.txt"); got != "a" {
				t.Errorf("a.txt = %q; abort must leave completed steps", got)
			}
			// rebind rollback RUN then undoes it.
			rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if rb.Status != journal.StatusRolledBack {
				t.Fatalf("rollback status = %s", rb.Status)
			}
			if _, ok := h.file("a.txt"); ok {
				t.Errorf("a.txt exists after rollback")
			}
		},
	}, {
		name:  "RollbackOfFinishedRunReportsIrreversible",
		setup: setWorld("gone", "x"),
		src: header + valueStep("a", "a", "1") + `
step "test_purge" "p" {
  key = "gone"
}
` + valueStep("b", "b", "2"),
		status: journal.StatusSucceeded,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if theWorld.get("a") != "" || theWorld.get("b") != "" {
				t.Errorf("a=%q b=%q after rollback, want both cleared", theWorld.get("a"), theWorld.get("b"))
			}
			if len(rb.NotReverted) != 1 || rb.NotReverted[0].Address != "step.test_purge.p" || !strings.Contains(rb.NotReverted[0].Err, "cannot be brought back") {
				t.Errorf("not reverted = %+v, want the purge with its reason", rb.NotReverted)
			}
			// A rollback twice does nothing more.
			again, _ := h.e.Rollback(context.Background(), rep.RunID, Inputs{})
			if len(again.Reverted) != 0 {
				t.Errorf("second rollback reverted %v", again.Reverted)
			}
		},
	}, {
		// No automatic half rollback.
		name:  "DefaultOnFailureAbortsWhenSomethingCannotBeReverted",
		setup: setWorld("gone", "x"),
		src: header + valueStep("a", "a", "1") + `
step "test_purge" "p" {
  key = "gone"
}
` + valueStep("boom", "z", "1", `fail = true`),
		status: journal.StatusFailed,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if theWorld.get("a") != "1" {
				t.Errorf("a was changed back")
			}
		},
	}, {
		name:   "RetryTransientFailures/2 failures, 3 attempts",
		setup:  func(*testing.T, *harness) { theWorld.fails["x"] = 2 },
		src:    retrySrc,
		status: journal.StatusSucceeded,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if n := theWorld.count(theWorld.applies, "x"); n != 3 {
				t.Errorf("applies = %d, want 3", n)
			}
		},
	}, {
		name:  "RetryTransientFailures/3 failures, 3 attempts",
		setup: func(*testing.T, *harness) { theWorld.fails["x"] = 3 },
		src:   retrySrc,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if rep.Status == journal.StatusSucceeded {
				t.Fatalf("succeeded with 3 transient failures and 3 attempts")
			}
		},
	}, {
		name:   "MaxErrors/2",
		src:    maxErrorsSrc("2"),
		status: journal.StatusSucceeded,
		check:  maxErrorsToleratedCheck,
	}, {
		name:  "MaxErrors/1",
		src:   maxErrorsSrc("1"),
		check: maxErrorsExceededCheck,
	}, {
		name:   "MaxErrors/20%",
		src:    maxErrorsSrc(`"20%"`),
		status: journal.StatusSucceeded,
		check:  maxErrorsToleratedCheck,
	}, {
		name:  "MaxErrors/10%",
		src:   maxErrorsSrc(`"10%"`),
		check: maxErrorsExceededCheck,
	}, {
		name:    "DriftRefusesApply",
		setup:   setWorld("a", "old", "b", "same"),
		src:     header + valueStep("a", "a", "new") + valueStep("b", "b", "same"),
		between: func(*harness) { theWorld.set("a", "someone else") },
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if len(rep.Drift) != 1 || rep.Drift[0].Address != "step.test_value.a" {
				t.Fatalf("drift = %+v, want exactly step.test_value.a", rep.Drift)
			}
			if got := strings.Join(rep.Drift[0].Attributes, ";"); !strings.Contains(got, `value: "old" -> "someone else"`) {
				t.Errorf("drift attributes = %q", got)
			}
			if theWorld.count(theWorld.applies, "a") != 0 {
				t.Errorf("a was written despite drift")
			}
		},
	}, {
		name:   "PlanAppliedOnlyOnce",
		src:    header + valueStep("a", "a", "1"),
		saved:  true,
		status: journal.StatusSucceeded,
		check: func(t *testing.T, h *harness, p *plan.Plan, first *Report) {
			theWorld.set("a", "") // even if the world went back, the plan is spent
			p2 := h.plan(header+valueStep("a", "a", "1"), nil)
			p2.Steps, p2.Created, p2.Expires = p.Steps, p.Created, p.Expires
			_, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{Saved: true})
			if !diags.HasErrors() || !strings.Contains(diags.Error(), "already applied") || !strings.Contains(diags.Error(), first.RunID) {
				t.Fatalf("second apply of the same plan: %v (want it to name run %s)", diags, first.RunID)
			}
		},
	}, {
		name: "AwaitWaitsWithoutWriting",
		setup: func(*testing.T, *harness) {
			go func() {
				time.Sleep(40 * time.Millisecond)
				theWorld.set("bound", "yes")
			}()
		},
		src:    header + valueStep("bound", "bound", "yes", `await = "5s"`),
		status: journal.StatusSucceeded,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if n := theWorld.count(theWorld.applies, "bound"); n != 0 {
				t.Errorf("await wrote %d times", n)
			}
		},
	}, {
		name: "AwaitWaitsWithoutWriting/timeout",
		src:  header + valueStep("never", "never", "yes", `await = "30ms"`, `on_failure = abort`),
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if rep.Status != journal.StatusFailed || !strings.Contains(rep.Failures[0].Err, "not so after 30ms") {
				t.Errorf("await timeout: %s %+v", rep.Status, rep.Failures)
			}
		},
	}, {
		name: "ApproveStepPausesThenResumes",
		src: header + valueStep("a", "a", "1") + `
step "approve" "hold" {
  message = "Check the hold before purging."
}
` + valueStep("b", "b", "2"),
		status: journal.StatusPaused,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if !strings.Contains(rep.Paused, "Check the hold") {
				t.Fatalf("status %s paused %q", rep.Status, rep.Paused)
			}
			if theWorld.get("b") != "" {
				t.Fatalf("b written before the approval")
			}
			ctx := context.Background()
			if err := h.e.Store.ApproveStep(ctx, rep.RunID, "step.approve.hold", "carol"); err != nil {
				t.Fatal(err)
			}
			rep, diags := h.e.Resume(ctx, rep.RunID, Inputs{}, ResumeOptions{})
			if diags.HasErrors() || rep.Status != journal.StatusSucceeded {
				t.Fatalf("resume: %v %+v", diags, rep)
			}
			if theWorld.get("b") != "2" || theWorld.count(theWorld.applies, "a") != 1 {
				t.Errorf("b=%q applies(a)=%d", theWorld.get("b"), theWorld.count(theWorld.applies, "a"))
			}
		},
	}, {
		name:  "Preconditions/refused at plan",
		setup: setWorld("a", "x"),
		src: header + `
step "test_value" "a" {
  key   = "a"
  value = "y"
  precondition {
    condition     = self.observed.value == "z"
    error_message = "a must be z before it changes."
  }
}
`,
		planErr: []string{"a must be z"},
	}, {
		// After an earlier write the plan defers the check to apply, where
		// it holds because the earlier step made it true.
		name:  "Preconditions/deferred after an earlier write",
		setup: setWorld("a", "x"),
		src: header + valueStep("first", "a", "z") + `
step "test_value" "second" {
  key   = "a"
  value = "z2"
  precondition {
    condition     = self.observed.value == "z"
    error_message = "a must be z before it changes."
  }
}
`,
		planned: func(t *testing.T, h *harness, p *plan.Plan) {
			if notes := p.Steps[1].Instances[0].Notes; len(notes) != 2 || !strings.Contains(notes[0], "checked again at apply") || !strings.Contains(notes[1], "step.test_value.first changes this object first") {
				t.Errorf("plan notes = %v", notes)
			}
		},
		status: journal.StatusSucceeded,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if theWorld.get("a") != "z2" {
				t.Fatalf("apply: %s a=%q\n%s", rep.Status, theWorld.get("a"), h.log.String())
			}
		},
	}, {
		name: "SensitiveNeverStored",
		src: header + `
variable "password" {
  type      = string
  sensitive = true
}
step "test_value" "a" {
  key    = "a"
  value  = var.password
  secret = var.password
}
` + valueStep("named", "user-${var.password}", "1"),
		vars: map[string]string{"password": "hunter2-secret"},
		planned: func(t *testing.T, h *harness, p *plan.Plan) {
			if b := p.CanonicalBytes(); bytes.Contains(b, []byte("hunter2")) {
				t.Fatalf("the plan holds the secret: %s", b)
			}
			if len(p.SecretInputs) != 1 || p.SecretInputs[0] != "password" {
				t.Errorf("secret inputs = %v", p.SecretInputs)
			}
		},
		status: journal.StatusSucceeded,
		check: func(t *testing.T, h *harness, p *plan.Plan, rep *Report) {
			recs, _ := h.e.Store.Records(context.Background(), rep.RunID)
			for _, r := range recs {
				if bytes.Contains(r.Data, []byte("hunter2")) || strings.Contains(r.Error, "hunter2") {
					t.Fatalf("journal record %d holds the secret: %s", r.Seq, r.Data)
				}
			}
			h.e.Store.Close()
			for _, f := range []string{"", "-wal"} {
				db, _ := os.ReadFile(h.e.Store.Where() + f)
				if bytes.Contains(db, []byte("hunter2")) {
					t.Fatalf("the journal database file%s holds the secret", f)
				}
			}
			store, err := journal.Open(filepath.Join(h.dir, ".rebind"))
			if err != nil {
				t.Fatal(err)
			}
			h.e.Store = store
			// Apply without the secret is refused with the variable named.
			_, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
			if !diags.HasErrors() || !strings.Contains(diags.Error(), `"password"`) {
				t.Errorf("apply without the secret: %v", diags)
			}
		},
	}, {
		// The same input again (a PII-marked value) is accepted; another
		// one is refused, naming the variable.
		name: "ApplyKeepsReviewedInputs",
		src: header + `
variable "upn" {
  type = string
  pii  = true
}
step "test_value" "a" {
  key   = var.upn
  value = "1"
}
`,
		vars:   map[string]string{"upn": "nicki@contoso.com"},
		status: journal.StatusSucceeded,
		check: func(t *testing.T, h *harness, p *plan.Plan, rep *Report) {
			_, diags := h.e.Apply(context.Background(), p, Inputs{Vars: map[string]string{"upn": "someone@else.com"}}, ApplyOptions{})
			if !diags.HasErrors() || !strings.Contains(diags.Error(), `"upn" was planned as`) {
				t.Fatalf("apply with a different input: %v", diags)
			}
		},
	}, {
		// A row added to the input CSV after review must not be applied:
		// the reviewed plan did not contain it.
		name: "DriftRefusesInstancesAddedAfterReview",
		setup: func(t *testing.T, h *harness) {
			os.WriteFile(filepath.Join(h.dir, "users.csv"), []byte("upn\nadele@x\n"), 0o644)
		},
		src: header + `
step "test_value" "each" {
  for_each = { for r in csvdecode(file("users.csv")) : r.upn => r }
  key      = each.key
  value    = "bound"
}
`,
		between: func(h *harness) {
			os.WriteFile(filepath.Join(h.dir, "users.csv"), []byte("upn\nadele@x\nintruder@x\n"), 0o644)
		},
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if len(rep.Drift) != 1 || rep.Drift[0].Address != `step.test_value.each["intruder@x"]` {
				t.Fatalf("drift = %+v, want the new instance", rep.Drift)
			}
			if theWorld.get("adele@x") != "" || theWorld.get("intruder@x") != "" {
				t.Fatalf("something was written despite the drift")
			}
			// A value read from a file that changed after review is
			// refused too.
			os.WriteFile(filepath.Join(h.dir, "value.txt"), []byte("reviewed"), 0o644)
			p := h.plan(header+`
step "test_value" "one" {
  key   = "k"
  value = file("value.txt")
}
`, nil)
			os.WriteFile(filepath.Join(h.dir, "value.txt"), []byte("swapped"), 0o644)
			rep, _ = h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
			if len(rep.Drift) != 1 || !strings.Contains(strings.Join(rep.Drift[0].Attributes, ";"), `planned value value: "reviewed" -> "swapped"`) {
				t.Fatalf("drift = %+v, want the changed planned value", rep.Drift)
			}
			if theWorld.get("k") != "" {
				t.Fatalf("k written despite the drift")
			}
		},
	}, {
		// A step on an object that an earlier step changes first must not
		// be shown as "already so" when apply will in fact write it.
		name:  "PlanDefersStepsOnObjectsChangedEarlier",
		setup: setWorld("stage", "done"),
		src:   header + valueStep("a", "stage", "ready") + valueStep("b", "stage", "done"),
		planned: func(t *testing.T, h *harness, p *plan.Plan) {
			b := p.Steps[1].Instances[0]
			if b.Action != plan.ActionDeferred || len(b.Notes) == 0 || !strings.Contains(b.Notes[0], "step.test_value.a changes this object first") {
				t.Fatalf("b planned as %s %v; want deferred with a note naming step a", b.Action, b.Notes)
			}
		},
		status: journal.StatusSucceeded,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if rep.Applied != 2 {
				t.Fatalf("apply: %+v", rep)
			}
			if theWorld.get("stage") != "done" {
				t.Errorf("stage = %q", theWorld.get("stage"))
			}
		},
	}, {
		// Resume and rollback use the data values recorded when the run
		// started, not what the block would read after the run changed the
		// world, and they do not re-check the data block's conditions
		// against that changed world.
		name:  "ResumeUsesRecordedData",
		setup: setWorld("anchor", "old"),
		src: header + `
data "test_read" "cloud" {
  key = "anchor"
  postcondition {
    condition     = self.observed.value == "old"
    error_message = "nothing to re-bind."
  }
}
` + valueStep("clear", "anchor", "new") + `
step "test_value" "copy" {
  key        = "copy"
  value      = data.test_read.cloud.value
  fail       = true
  on_failure = abort
}
`,
		status: journal.StatusFailed,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if theWorld.get("anchor") != "new" {
				t.Fatalf("first run: %s anchor=%q", rep.Status, theWorld.get("anchor"))
			}
			// The data block would now read "new" and its postcondition
			// would fail.
			rollBack(t, h, rep.RunID, Inputs{})
			if theWorld.get("anchor") != "old" {
				t.Fatalf("anchor = %q after rollback", theWorld.get("anchor"))
			}
		},
	}, {
		// A target that cannot be opened is an error naming it, never a
		// panic when the run closes its targets.
		name: "TargetOpenFailureIsReportedNotClosed",
		src: header + `
target "test_broken" "dc" {}
data "test_targeted_read" "x" {
  target = target.test_broken.dc
  key    = "k"
}
`,
		planErr: []string{"cannot reach the directory", "test_broken.dc"},
	}, {
		// A run that stopped without finishing keeps its objects locked: a
		// second run on the same objects is refused, naming the object and
		// the run, until the first is rolled back (or resumed to the end).
		name:   "OneRunPerObjectAtATime",
		src:    header + valueStep("a", "shared", "1") + valueStep("boom", "other", "1", `fail = true`, `on_failure = abort`),
		status: journal.StatusFailed,
		check: func(t *testing.T, h *harness, _ *plan.Plan, first *Report) {
			src := header + valueStep("b", "shared", "2")
			second, diags := h.e.Apply(context.Background(), h.plan(src, nil), Inputs{}, ApplyOptions{})
			if second != nil || !diags.HasErrors() || !strings.Contains(diags.Error(), "test:shared") ||
				!strings.Contains(diags.Error(), first.RunID) || !strings.Contains(diags.Error(), "apply again") {
				t.Fatalf("second run on a locked object: %+v %v", second, diags)
			}
			if theWorld.get("shared") != "1" {
				t.Fatalf("the second run wrote a locked object")
			}
			// Refused before it started, it left no run behind that
			// someone could resume without its locks.
			if runs, _ := h.e.Store.Runs(context.Background()); len(runs) != 1 {
				t.Fatalf("%d runs after a refused apply, want 1", len(runs))
			}
			rollBack(t, h, first.RunID, Inputs{})
			if third := h.apply(src, nil); third.Status != journal.StatusSucceeded || theWorld.get("shared") != "2" {
				t.Fatalf("after the rollback released the lock: %s shared=%q", third.Status, theWorld.get("shared"))
			}
		},
	}, {
		// An optional data block that found nothing: apply refuses when
		// the object has appeared since review...
		name:    "OptionalData/appeared after review",
		src:     strings.Replace(optionalDataSrc, "self.observed == null", "self.observed == null || self.observed.value != \"x\"", 1),
		between: func(*harness) { theWorld.set("old", "back") },
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			// The block's value and the change decided from it both differ.
			if len(rep.Drift) != 2 || rep.Drift[0].Address != "data.test_lookup.old" || rep.Drift[0].Object != "test:old" ||
				rep.Drift[1].Address != "step.test_value.bind" {
				t.Fatalf("drift = %+v, want data.test_lookup.old (test:old), then step.test_value.bind", rep.Drift)
			}
			if got := strings.Join(rep.Drift[0].Attributes, ";"); !strings.Contains(got, "null ->") {
				t.Errorf("drift attributes = %q, want null -> the object", got)
			}
			if theWorld.count(theWorld.applies, "bind") != 0 {
				t.Errorf("bind was written despite drift")
			}
		},
	}, {
		name:     "OptionalData/appeared after review, condition refuses",
		src:      optionalDataSrc,
		between:  func(*harness) { theWorld.set("old", "back") },
		applyErr: []string{"restore it instead"},
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if theWorld.count(theWorld.applies, "bind") != 0 {
				t.Errorf("bind was written")
			}
		},
	}, {
		name:    "OptionalData/found refuses",
		setup:   setWorld("old", "back"),
		src:     optionalDataSrc,
		planErr: []string{"restore it instead"},
	}, {
		// ...and a rollback uses the recorded null, not what the block
		// would read now.
		name:   "OptionalData/rollback uses the recorded null",
		src:    optionalDataSrc,
		status: journal.StatusFailed,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if theWorld.get("bind") != "new" {
				t.Fatalf("first run: %s bind=%q", rep.Status, theWorld.get("bind"))
			}
			theWorld.set("old", "back") // read now, the postcondition would fail
			rollBack(t, h, rep.RunID, Inputs{})
			if got := theWorld.get("bind"); got != "" {
				t.Errorf("bind = %q after rollback, want it unset", got)
			}
		},
	}, {
		// The journal withholds an exec's env (and anything built from a
		// secret); its undo still gets it: rollback evaluates it again from
		// the inputs it is given, checks that the rest evaluates to what
		// ran, and never stores it.
		name:   "RollbackGivesUndoItsWithheldEnv/rollback of a run",
		src:    withheldEnvSrc,
		vars:   tokenVars,
		status: journal.StatusFailed,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if got, _ := h.file("did.txt"); got != "s3cret-token" {
				t.Fatalf("did.txt = %q", got)
			}
			rollBack(t, h, rep.RunID, Inputs{Vars: tokenVars})
			if got, _ := h.file("undone.txt"); got != "s3cret-token" {
				t.Errorf("undone.txt = %q: the undo ran without its env", got)
			}
			recs, _ := h.e.Store.Records(context.Background(), rep.RunID)
			for _, r := range recs {
				if bytes.Contains(r.Data, []byte("s3cret")) {
					t.Fatalf("journal record %d holds the secret: %s", r.Seq, r.Data)
				}
			}
		},
	}, {
		name: "RollbackGivesUndoItsWithheldEnv/fan-out",
		setup: func(t *testing.T, h *harness) {
			if withheldEnvFanOut == withheldEnvSrc {
				t.Fatal("the fan-out edit did not apply")
			}
		},
		src:  withheldEnvFanOut,
		vars: tokenVars,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			rollBack(t, h, rep.RunID, Inputs{Vars: tokenVars})
			for _, k := range []string{"a", "b"} {
				if got, _ := h.file("undone-" + k + ".txt"); got != "s3cret-token-"+k {
					t.Errorf("undone-%s.txt = %q", k, got)
				}
			}
		},
	}, {
		name: "RollbackGivesUndoItsWithheldEnv/env from a step of the run",
		src:  withheldEnvFromStep,
		vars: tokenVars,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			if got, _ := h.file("did.txt"); got != "from-a-step" {
				t.Fatalf("did.txt = %q", got)
			}
			rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{Vars: tokenVars})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if rb.Status != journal.StatusRollbackFailed || len(rb.NotReverted) != 1 ||
				rb.NotReverted[0].Address != "step.exec.mark" || !strings.Contains(rb.NotReverted[0].Err, "revert it by hand") {
				t.Fatalf("rollback = %+v, want step.exec.mark not reverted, saying why", rb)
			}
			if _, ok := h.file("undone.txt"); ok {
				t.Errorf("the undo ran without its env")
			}
		},
	}, {
		name: "RollbackGivesUndoItsWithheldEnv/the runbook evaluates to something else now",
		src:  withheldEnvSrc,
		vars: tokenVars,
		check: func(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
			changed := strings.Replace(withheldEnvSrc, `> undone.txt`, `> elsewhere.txt`, 1)
			if err := os.WriteFile(filepath.Join(h.dir, "main.hcl"), []byte(changed), 0o600); err != nil {
				t.Fatal(err)
			}
			// The run's plan holds the runbook's sources, so an edit on
			// disk changes nothing: rollback reverts what ran.
			rollBack(t, h, rep.RunID, Inputs{Vars: tokenVars})
			if _, ok := h.file("elsewhere.txt"); ok {
				t.Errorf("rollback ran the edited undo")
			}
		},
	}}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// maxErrorsToleratedCheck: within max_errors, the instances after a
// tolerated failure still run.
func maxErrorsToleratedCheck(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
	if theWorld.get("j") != "v" {
		t.Errorf("instances after a tolerated failure did not run")
	}
}

// maxErrorsExceededCheck: past max_errors, the run does not succeed.
func maxErrorsExceededCheck(t *testing.T, h *harness, _ *plan.Plan, rep *Report) {
	if rep.Status == journal.StatusSucceeded {
		t.Errorf("status %s, want the run stopped", rep.Status)
	}
}

func TestInDoubtActionAsksAPerson(t *testing.T) {
	h := newHarness(t)
	src := header + valueStep("a", "a", "1") + `
step "test_action" "sync" {
  key = "cycle"
}
` + valueStep("b", "b", "2")
	p := h.plan(src, nil)
	ctx := context.Background()
	// Simulate a crash right after the action's intent became durable: a
	// run whose journal ends with that intent.
	run, err := h.e.Store.CreateRun(ctx, journal.Run{Runbook: "t", Plan: p.CanonicalBytes(), Dir: h.dir, Status: journal.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	theWorld.set("a", "1")
	h.e.Store.Append(ctx, journal.Record{RunID: run.ID, Kind: journal.KindIntent, Step: "step.test_value.a", Data: []byte(`{"change":{"action":"create"}}`)})
	h.e.Store.Append(ctx, journal.Record{RunID: run.ID, Kind: journal.KindIntent, Step: "step.test_action.sync", Data: []byte(`{"change":{"action":"run"}}`)})

	rep, diags := h.e.Resume(ctx, run.ID, Inputs{}, ResumeOptions{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(rep.InDoubt) != 1 || rep.InDoubt[0] != "step.test_action.sync" {
		t.Fatalf("in doubt = %v, want the action", rep.InDoubt)
	}
	if theWorld.count(theWorld.runs, "cycle") != 0 || theWorld.count(theWorld.applies, "a") != 0 {
		t.Fatalf("resume ran the action or rewrote a: runs=%d applies=%d", theWorld.count(theWorld.runs, "cycle"), theWorld.count(theWorld.applies, "a"))
	}
	rep, diags = h.e.Resume(ctx, run.ID, Inputs{}, ResumeOptions{Decide: map[string]string{"step.test_action.sync": "done"}})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded {
		t.Fatalf("resume with a decision: %v %+v", diags, rep)
	}
	if theWorld.count(theWorld.runs, "cycle") != 0 || theWorld.get("b") != "2" {
		t.Errorf("after 'done': runs=%d b=%q", theWorld.count(theWorld.runs, "cycle"), theWorld.get("b"))
	}
	recs, _ := h.e.Store.Records(ctx, run.ID)
	var decisions []string
	for _, r := range recs {
		if r.Kind == journal.KindDecision {
			decisions = append(decisions, r.Step+"="+string(r.Data))
		}
	}
	if len(decisions) != 2 || !strings.Contains(decisions[0], "already-so") || !strings.Contains(decisions[1], "marked-done") {
		t.Errorf("decisions = %v", decisions)
	}
}

// A run an older rebind created and then refused for a lock ("aborted")
// holds no locks and was never checked for drift: resume refuses it and
// says to apply again.
func TestResumeRefusesRunRefusedForALock(t *testing.T) {
	h := newHarness(t)
	src := header + valueStep("a", "a", "1")
	ctx := context.Background()
	run, err := h.e.Store.CreateRun(ctx, journal.Run{Runbook: "t", Plan: h.plan(src, nil).CanonicalBytes(), Dir: h.dir})
	if err != nil {
		t.Fatal(err)
	}
	h.e.Store.SetStatus(ctx, run.ID, journal.StatusAborted, "journal: object test:a is locked by run other")
	_, diags := h.e.Resume(ctx, run.ID, Inputs{}, ResumeOptions{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "apply the runbook again") {
		t.Fatalf("resume of a run refused for a lock: %v", diags)
	}
	if theWorld.count(theWorld.applies, "a") != 0 {
		t.Errorf("resume wrote a")
	}
}
