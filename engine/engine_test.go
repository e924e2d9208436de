package engine

import (
	"bytes"
	"context"
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

func TestFailureRollsBackEveryFile(t *testing.T) {
	h := newHarness(t)
	os.WriteFile(filepath.Join(h.dir, "keep.txt"), []byte("original\n"), 0o644)
	rep := h.apply(header+`
step "file" "keep" {
  path    = "keep.txt"
  content = "changed\n"
}
step "file" "new" {
  path    = "new.txt"
  content = "created\n"
}
step "test_value" "boom" {
  key   = "k"
  value = "v"
  fail  = true
}
`, nil)
	if rep.Status != journal.StatusRolledBack {
		t.Fatalf("status = %s, want rolled-back\n%s", rep.Status, h.log.String())
	}
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
}

func TestOnFailureAbortLeavesCompletedSteps(t *testing.T) {
	h := newHarness(t)
	rep := h.apply(header+`
step "file" "a" {
  path    = "a.txt"
  content = "a"
}
step "test_value" "boom" {
  key        = "k"
  value      = "v"
  fail       = true
  on_failure = abort
}
`, nil)
	if rep.Status != journal.StatusFailed {
		t.Fatalf("status = %s, want failed", rep.Status)
	}
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
}

func TestRollbackOfFinishedRunReportsIrreversible(t *testing.T) {
	h := newHarness(t)
	theWorld.set("gone", "x")
	rep := h.apply(header+`
step "test_value" "a" {
  key   = "a"
  value = "1"
}
step "test_purge" "p" {
  key = "gone"
}
step "test_value" "b" {
  key   = "b"
  value = "2"
}
`, nil)
	if rep.Status != journal.StatusSucceeded {
		t.Fatalf("status = %s\n%s", rep.Status, h.log.String())
	}
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
}

func TestDefaultOnFailureAbortsWhenSomethingCannotBeReverted(t *testing.T) {
	h := newHarness(t)
	theWorld.set("gone", "x")
	rep := h.apply(header+`
step "test_value" "a" {
  key   = "a"
  value = "1"
}
step "test_purge" "p" {
  key = "gone"
}
step "test_value" "boom" {
  key   = "z"
  value = "1"
  fail  = true
}
`, nil)
	if rep.Status != journal.StatusFailed {
		t.Fatalf("status = %s, want failed (no automatic half rollback)", rep.Status)
	}
	if theWorld.get("a") != "1" {
		t.Errorf("a was changed back")
	}
}

func TestRetryTransientFailures(t *testing.T) {
	src := header + `
step "test_value" "x" {
  key   = "x"
  value = "1"
  retry {
    attempts = 3
    backoff  = "1ms"
  }
}
`
	h := newHarness(t)
	theWorld.fails["x"] = 2
	if rep := h.apply(src, nil); rep.Status != journal.StatusSucceeded {
		t.Fatalf("status = %s with 2 transient failures and 3 attempts", rep.Status)
	}
	if n := theWorld.count(theWorld.applies, "x"); n != 3 {
		t.Errorf("applies = %d, want 3", n)
	}
	h = newHarness(t)
	theWorld.fails["x"] = 3
	if rep := h.apply(src, nil); rep.Status == journal.StatusSucceeded {
		t.Fatalf("succeeded with 3 transient failures and 3 attempts")
	}
}

func TestMaxErrors(t *testing.T) {
	src := func(maxErrors string) string {
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
	for _, c := range []struct {
		maxErrors string
		ok        bool
	}{{"2", true}, {"1", false}, {`"20%"`, true}, {`"10%"`, false}} {
		h := newHarness(t)
		rep := h.apply(src(c.maxErrors), nil)
		if ok := rep.Status == journal.StatusSucceeded; ok != c.ok {
			t.Errorf("max_errors = %s: status %s, want ok=%v", c.maxErrors, rep.Status, c.ok)
		}
		if c.ok && theWorld.get("j") != "v" {
			t.Errorf("max_errors = %s: instances after a tolerated failure did not run", c.maxErrors)
		}
	}
}

func TestDriftRefusesApply(t *testing.T) {
	h := newHarness(t)
	theWorld.set("a", "old")
	theWorld.set("b", "same")
	src := header + `
step "test_value" "a" {
  key   = "a"
  value = "new"
}
step "test_value" "b" {
  key   = "b"
  value = "same"
}
`
	p := h.plan(src, nil)
	theWorld.set("a", "someone else")
	rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(rep.Drift) != 1 || rep.Drift[0].Address != "step.test_value.a" {
		t.Fatalf("drift = %+v, want exactly step.test_value.a", rep.Drift)
	}
	if got := strings.Join(rep.Drift[0].Attributes, ";"); !strings.Contains(got, `value: "old" -> "someone else"`) {
		t.Errorf("drift attributes = %q", got)
	}
	if theWorld.count(theWorld.applies, "a") != 0 {
		t.Errorf("a was written despite drift")
	}
}

func TestPlanAppliedOnlyOnce(t *testing.T) {
	h := newHarness(t)
	src := header + `
step "test_value" "a" {
  key   = "a"
  value = "1"
}
`
	p := h.plan(src, nil)
	first, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{Saved: true})
	if diags.HasErrors() || first.Status != journal.StatusSucceeded {
		t.Fatalf("first apply: %v %v", diags, first)
	}
	theWorld.set("a", "") // even if the world went back, the plan is spent
	p2 := h.plan(src, nil)
	p2.Steps, p2.Created, p2.Expires = p.Steps, p.Created, p.Expires
	_, diags = h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{Saved: true})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "already applied") || !strings.Contains(diags.Error(), first.RunID) {
		t.Fatalf("second apply of the same plan: %v (want it to name run %s)", diags, first.RunID)
	}
}

func TestInDoubtActionAsksAPerson(t *testing.T) {
	h := newHarness(t)
	src := header + `
step "test_value" "a" {
  key   = "a"
  value = "1"
}
step "test_action" "sync" {
  key = "cycle"
}
step "test_value" "b" {
  key   = "b"
  value = "2"
}
`
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

func TestAwaitWaitsWithoutWriting(t *testing.T) {
	h := newHarness(t)
	go func() {
		time.Sleep(40 * time.Millisecond)
		theWorld.set("bound", "yes")
	}()
	rep := h.apply(header+`
step "test_value" "bound" {
  key   = "bound"
  value = "yes"
  await = "5s"
}
`, nil)
	if rep.Status != journal.StatusSucceeded {
		t.Fatalf("status %s\n%s", rep.Status, h.log.String())
	}
	if n := theWorld.count(theWorld.applies, "bound"); n != 0 {
		t.Errorf("await wrote %d times", n)
	}
	h = newHarness(t)
	rep = h.apply(header+`
step "test_value" "never" {
  key        = "never"
  value      = "yes"
  await      = "30ms"
  on_failure = abort
}
`, nil)
	if rep.Status != journal.StatusFailed || !strings.Contains(rep.Failures[0].Err, "not so after 30ms") {
		t.Errorf("await timeout: %s %+v", rep.Status, rep.Failures)
	}
}

func TestApproveStepPausesThenResumes(t *testing.T) {
	h := newHarness(t)
	src := header + `
step "test_value" "a" {
  key   = "a"
  value = "1"
}
step "approve" "hold" {
  message = "Check the hold before purging."
}
step "test_value" "b" {
  key   = "b"
  value = "2"
}
`
	rep := h.apply(src, nil)
	if rep.Status != journal.StatusPaused || !strings.Contains(rep.Paused, "Check the hold") {
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
}

func TestPreconditions(t *testing.T) {
	h := newHarness(t)
	theWorld.set("a", "x")
	_, diags := h.e.Plan(context.Background(), h.load(header+`
step "test_value" "a" {
  key   = "a"
  value = "y"
  precondition {
    condition     = self.observed.value == "z"
    error_message = "a must be z before it changes."
  }
}
`), Inputs{}, PlanOptions{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "a must be z") {
		t.Fatalf("plan: want the precondition's message, got %v", diags)
	}
	// After an earlier write the plan defers the check to apply, where it
	// holds because the earlier step made it true.
	src := header + `
step "test_value" "first" {
  key   = "a"
  value = "z"
}
step "test_value" "second" {
  key   = "a"
  value = "z2"
  precondition {
    condition     = self.observed.value == "z"
    error_message = "a must be z before it changes."
  }
}
`
	p := h.plan(src, nil)
	if notes := p.Steps[1].Instances[0].Notes; len(notes) != 2 || !strings.Contains(notes[0], "checked again at apply") || !strings.Contains(notes[1], "step.test_value.first changes this object first") {
		t.Errorf("plan notes = %v", notes)
	}
	rep := h.apply(src, nil)
	if rep.Status != journal.StatusSucceeded || theWorld.get("a") != "z2" {
		t.Fatalf("apply: %s a=%q\n%s", rep.Status, theWorld.get("a"), h.log.String())
	}
}

func TestSensitiveNeverStored(t *testing.T) {
	h := newHarness(t)
	src := header + `
variable "password" {
  type      = string
  sensitive = true
}
step "test_value" "a" {
  key    = "a"
  value  = var.password
  secret = var.password
}
step "test_value" "named" {
  key   = "user-${var.password}"
  value = "1"
}
`
	vars := map[string]string{"password": "hunter2-secret"}
	p := h.plan(src, vars)
	if b := p.CanonicalBytes(); bytes.Contains(b, []byte("hunter2")) {
		t.Fatalf("the plan holds the secret: %s", b)
	}
	if len(p.SecretInputs) != 1 || p.SecretInputs[0] != "password" {
		t.Errorf("secret inputs = %v", p.SecretInputs)
	}
	rep, diags := h.e.Apply(context.Background(), p, Inputs{Vars: vars}, ApplyOptions{})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded {
		t.Fatalf("apply: %v %+v", diags, rep)
	}
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
	_, diags = h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `"password"`) {
		t.Errorf("apply without the secret: %v", diags)
	}
}

func TestApplyKeepsReviewedInputs(t *testing.T) {
	h := newHarness(t)
	src := header + `
variable "upn" {
  type = string
  pii  = true
}
step "test_value" "a" {
  key   = var.upn
  value = "1"
}
`
	vars := map[string]string{"upn": "nicki@contoso.com"}
	p := h.plan(src, vars)
	// The same input again (a PII-marked value) is accepted...
	if rep, diags := h.e.Apply(context.Background(), p, Inputs{Vars: vars}, ApplyOptions{}); diags.HasErrors() || rep.Status != journal.StatusSucceeded {
		t.Fatalf("apply with the planned input: %v %+v", diags, rep)
	}
	// ...another one is refused, naming the variable.
	_, diags := h.e.Apply(context.Background(), p, Inputs{Vars: map[string]string{"upn": "someone@else.com"}}, ApplyOptions{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `"upn" was planned as`) {
		t.Fatalf("apply with a different input: %v", diags)
	}
}

// A row added to the input CSV after review must not be applied: the
// reviewed plan did not contain it.
func TestDriftRefusesInstancesAddedAfterReview(t *testing.T) {
	h := newHarness(t)
	csv := filepath.Join(h.dir, "users.csv")
	os.WriteFile(csv, []byte("upn\nadele@x\n"), 0o644)
	src := header + `
step "test_value" "each" {
  for_each = { for r in csvdecode(file("users.csv")) : r.upn => r }
  key      = each.key
  value    = "bound"
}
`
	p := h.plan(src, nil)
	os.WriteFile(csv, []byte("upn\nadele@x\nintruder@x\n"), 0o644)
	rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(rep.Drift) != 1 || rep.Drift[0].Address != `step.test_value.each["intruder@x"]` {
		t.Fatalf("drift = %+v, want the new instance", rep.Drift)
	}
	if theWorld.get("adele@x") != "" || theWorld.get("intruder@x") != "" {
		t.Fatalf("something was written despite the drift")
	}
	// A value read from a file that changed after review is refused too.
	os.WriteFile(filepath.Join(h.dir, "value.txt"), []byte("reviewed"), 0o644)
	p = h.plan(header+`
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
}

// A step on an object that an earlier step changes first must not be
// shown as "already so" when apply will in fact write it.
func TestPlanDefersStepsOnObjectsChangedEarlier(t *testing.T) {
	h := newHarness(t)
	theWorld.set("stage", "done")
	src := header + `
step "test_value" "a" {
  key   = "stage"
  value = "ready"
}
step "test_value" "b" {
  key   = "stage"
  value = "done"
}
`
	p := h.plan(src, nil)
	b := p.Steps[1].Instances[0]
	if b.Action != plan.ActionDeferred || len(b.Notes) == 0 || !strings.Contains(b.Notes[0], "step.test_value.a changes this object first") {
		t.Fatalf("b planned as %s %v; want deferred with a note naming step a", b.Action, b.Notes)
	}
	rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded || rep.Applied != 2 {
		t.Fatalf("apply: %v %+v", diags, rep)
	}
	if theWorld.get("stage") != "done" {
		t.Errorf("stage = %q", theWorld.get("stage"))
	}
}

// Resume and rollback use the data values recorded when the run started,
// not what the block would read after the run changed the world, and they
// do not re-check the data block's conditions against that changed world.
func TestResumeUsesRecordedData(t *testing.T) {
	h := newHarness(t)
	theWorld.set("anchor", "old")
	src := header + `
data "test_read" "cloud" {
  key = "anchor"
  postcondition {
    condition     = self.observed.value == "old"
    error_message = "nothing to re-bind."
  }
}
step "test_value" "clear" {
  key   = "anchor"
  value = "new"
}
step "test_value" "copy" {
  key        = "copy"
  value      = data.test_read.cloud.value
  fail       = true
  on_failure = abort
}
`
	rep := h.apply(src, nil)
	if rep.Status != journal.StatusFailed || theWorld.get("anchor") != "new" {
		t.Fatalf("first run: %s anchor=%q", rep.Status, theWorld.get("anchor"))
	}
	// The data block would now read "new" and its postcondition would fail.
	rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{})
	if diags.HasErrors() || rb.Status != journal.StatusRolledBack {
		t.Fatalf("rollback: %v %+v", diags, rb)
	}
	if theWorld.get("anchor") != "old" {
		t.Fatalf("anchor = %q after rollback", theWorld.get("anchor"))
	}
}

// A target that cannot be opened is an error naming it, never a panic when
// the run closes its targets.
func TestTargetOpenFailureIsReportedNotClosed(t *testing.T) {
	h := newHarness(t)
	_, diags := h.e.Plan(context.Background(), h.load(header+`
target "test_broken" "dc" {}
data "test_targeted_read" "x" {
  target = target.test_broken.dc
  key    = "k"
}
`), Inputs{}, PlanOptions{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "cannot reach the directory") || !strings.Contains(diags.Error(), "test_broken.dc") {
		t.Fatalf("plan with an unreachable target: %v", diags)
	}
}

// A run that stopped without finishing keeps its objects locked: a second
// run on the same objects is refused, naming the object and the run, until
// the first is rolled back (or resumed to the end).
func TestOneRunPerObjectAtATime(t *testing.T) {
	h := newHarness(t)
	first := h.apply(header+`
step "test_value" "a" {
  key   = "shared"
  value = "1"
}
step "test_value" "boom" {
  key        = "other"
  value      = "1"
  fail       = true
  on_failure = abort
}
`, nil)
	if first.Status != journal.StatusFailed {
		t.Fatalf("first run: %s", first.Status)
	}
	src := header + `
step "test_value" "b" {
  key   = "shared"
  value = "2"
}
`
	second, diags := h.e.Apply(context.Background(), h.plan(src, nil), Inputs{}, ApplyOptions{})
	if second != nil || !diags.HasErrors() || !strings.Contains(diags.Error(), "test:shared") ||
		!strings.Contains(diags.Error(), first.RunID) || !strings.Contains(diags.Error(), "apply again") {
		t.Fatalf("second run on a locked object: %+v %v", second, diags)
	}
	if theWorld.get("shared") != "1" {
		t.Fatalf("the second run wrote a locked object")
	}
	// Refused before it started, it left no run behind that someone could
	// resume without its locks.
	if runs, _ := h.e.Store.Runs(context.Background()); len(runs) != 1 {
		t.Fatalf("%d runs after a refused apply, want 1", len(runs))
	}
	if rb, diags := h.e.Rollback(context.Background(), first.RunID, Inputs{}); diags.HasErrors() || rb.Status != journal.StatusRolledBack {
		t.Fatalf("rollback: %v %+v", diags, rb)
	}
	if third := h.apply(src, nil); third.Status != journal.StatusSucceeded || theWorld.get("shared") != "2" {
		t.Fatalf("after the rollback released the lock: %s shared=%q", third.Status, theWorld.get("shared"))
	}
}

// A run an older rebind created and then refused for a lock ("aborted")
// holds no locks and was never checked for drift: resume refuses it and
// says to apply again.
func TestResumeRefusesRunRefusedForALock(t *testing.T) {
	h := newHarness(t)
	src := header + `
step "test_value" "a" {
  key   = "a"
  value = "1"
}
`
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

// An optional data block that found nothing: apply refuses when the object
// has appeared since review, and a rollback uses the recorded null, not
// what the block would read now.
func TestOptionalData(t *testing.T) {
	src := header + `
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
step "test_value" "boom" {
  key        = "boom"
  value      = "x"
  fail       = true
  on_failure = abort
}
`
	t.Run("appeared after review", func(t *testing.T) {
		h := newHarness(t)
		lenient := strings.Replace(src, "self.observed == null", "self.observed == null || self.observed.value != \"x\"", 1)
		p := h.plan(lenient, nil)
		theWorld.set("old", "back")
		rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
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
	})
	t.Run("appeared after review, condition refuses", func(t *testing.T) {
		h := newHarness(t)
		p := h.plan(src, nil)
		theWorld.set("old", "back")
		_, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "restore it instead") {
			t.Fatalf("apply diags = %v, want the postcondition's message", diags)
		}
		if theWorld.count(theWorld.applies, "bind") != 0 {
			t.Errorf("bind was written")
		}
	})
	t.Run("found refuses", func(t *testing.T) {
		h := newHarness(t)
		theWorld.set("old", "back")
		_, diags := h.e.Plan(context.Background(), h.load(src), Inputs{}, PlanOptions{Author: "tester"})
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "restore it instead") {
			t.Fatalf("plan diags = %v, want the postcondition's message", diags)
		}
	})
	t.Run("rollback uses the recorded null", func(t *testing.T) {
		h := newHarness(t)
		rep := h.apply(src, nil)
		if rep.Status != journal.StatusFailed || theWorld.get("bind") != "new" {
			t.Fatalf("first run: %s bind=%q", rep.Status, theWorld.get("bind"))
		}
		theWorld.set("old", "back") // read now, the postcondition would fail
		rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{})
		if diags.HasErrors() || rb.Status != journal.StatusRolledBack {
			t.Fatalf("rollback: %v %+v", diags, rb)
		}
		if got := theWorld.get("bind"); got != "" {
			t.Errorf("bind = %q after rollback, want it unset", got)
		}
	})
}

// The journal withholds an exec's env (and anything built from a secret);
// its undo still gets it: rollback evaluates it again from the inputs it is
// given, checks that the rest evaluates to what ran, and never stores it.
func TestRollbackGivesUndoItsWithheldEnv(t *testing.T) {
	src := header + `
variable "token" {
  type      = string
  sensitive = true
}
step "exec" "mark" {
  command = ["sh", "-c", "printf %s \"$TOKEN\" > did.txt"]
  undo    = ["sh", "-c", "printf %s \"$TOKEN\" > undone.txt"]
  env     = { TOKEN = var.token }
}
step "test_value" "boom" {
  key        = "boom"
  value      = "x"
  fail       = true
  on_failure = abort
}
`
	vars := map[string]string{"token": "s3cret-token"}
	t.Run("rollback of a run", func(t *testing.T) {
		h := newHarness(t)
		rep := h.apply(src, vars)
		if rep.Status != journal.StatusFailed {
			t.Fatalf("status %s", rep.Status)
		}
		if got, _ := h.file("did.txt"); got != "s3cret-token" {
			t.Fatalf("did.txt = %q", got)
		}
		rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{Vars: vars})
		if diags.HasErrors() || rb.Status != journal.StatusRolledBack {
			t.Fatalf("rollback: %v %+v", diags, rb)
		}
		if got, _ := h.file("undone.txt"); got != "s3cret-token" {
			t.Errorf("undone.txt = %q: the undo ran without its env", got)
		}
		recs, _ := h.e.Store.Records(context.Background(), rep.RunID)
		for _, r := range recs {
			if bytes.Contains(r.Data, []byte("s3cret")) {
				t.Fatalf("journal record %d holds the secret: %s", r.Seq, r.Data)
			}
		}
	})
	t.Run("fan-out", func(t *testing.T) {
		h := newHarness(t)
		fan := strings.Replace(src, `step "exec" "mark" {
  command = ["sh", "-c", "printf %s \"$TOKEN\" > did.txt"]
  undo    = ["sh", "-c", "printf %s \"$TOKEN\" > undone.txt"]
  env     = { TOKEN = var.token }`, `step "exec" "mark" {
  for_each = toset(["a", "b"])
  command  = ["sh", "-c", "printf %s \"$TOKEN\" > did-${each.key}.txt"]
  undo     = ["sh", "-c", "printf %s \"$TOKEN\" > undone-${each.key}.txt"]
  env      = { TOKEN = "${var.token}-${each.key}" }`, 1)
		if fan == src {
			t.Fatal("the fan-out edit did not apply")
		}
		rep := h.apply(fan, vars)
		rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{Vars: vars})
		if diags.HasErrors() || rb.Status != journal.StatusRolledBack {
			t.Fatalf("rollback: %v %+v", diags, rb)
		}
		for _, k := range []string{"a", "b"} {
			if got, _ := h.file("undone-" + k + ".txt"); got != "s3cret-token-"+k {
				t.Errorf("undone-%s.txt = %q", k, got)
			}
		}
	})
	t.Run("env from a step of the run", func(t *testing.T) {
		h := newHarness(t)
		fromStep := strings.Replace(src, `step "exec" "mark" {`, `step "test_value" "first" {
  key   = "first"
  value = "from-a-step"
}
step "exec" "mark" {`, 1)
		fromStep = strings.Replace(fromStep, `TOKEN = var.token`, `TOKEN = step.test_value.first.result.written`, 1)
		rep := h.apply(fromStep, vars)
		if got, _ := h.file("did.txt"); got != "from-a-step" {
			t.Fatalf("did.txt = %q", got)
		}
		rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{Vars: vars})
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
	})
	t.Run("the runbook evaluates to something else now", func(t *testing.T) {
		h := newHarness(t)
		rep := h.apply(src, vars)
		changed := strings.Replace(src, `> undone.txt`, `> elsewhere.txt`, 1)
		if err := os.WriteFile(filepath.Join(h.dir, "main.hcl"), []byte(changed), 0o600); err != nil {
			t.Fatal(err)
		}
		// The run's plan holds the runbook's sources, so an edit on disk
		// changes nothing: rollback reverts what ran.
		rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{Vars: vars})
		if diags.HasErrors() || rb.Status != journal.StatusRolledBack {
			t.Fatalf("rollback: %v %+v", diags, rb)
		}
		if _, ok := h.file("elsewhere.txt"); ok {
			t.Errorf("rollback ran the edited undo")
		}
	})
}
