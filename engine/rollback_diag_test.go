package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/steps"
)

// brittleType ("test_brittle") is test_value whose Revert always fails:
// the object was locked since the run wrote it.
type brittleType struct{ valueType }

func (brittleType) Info() steps.Info {
	info := valueType{}.Info()
	info.Name, info.Doc = "test_brittle", "Test: ensures a key holds a value; its revert fails."
	return info
}

func (brittleType) Revert(ctx context.Context, c steps.Call, ch steps.Change) error {
	k, _ := steps.String(c.Config, "key")
	return steps.Permanent(fmt.Errorf("test: %s is locked", k))
}

func init() { steps.Register(brittleType{}) }

// brittleSrc writes a with test_brittle (line 3 of main.hcl), then fails
// at b, so that the automatic rollback meets a's failing revert.
const brittleSrc = header + `
step "test_brittle" "a" {
  key   = "a"
  value = "new"
}

step "test_value" "b" {
  key   = "b"
  value = "x"
  fail  = true
}
`

// wantRevertDiag checks the diagnostic of a's failed revert: its summary,
// the error as detail, the range of a's block and the change's values.
func wantRevertDiag(t *testing.T, where string, diags []Diagnostic) {
	t.Helper()
	if len(diags) != 1 {
		t.Fatalf("%s: diagnostics %+v, want one", where, diags)
	}
	d := diags[0]
	if d.Summary != "Revert failed" || d.Detail != "test: a is locked" {
		t.Errorf("%s: diagnostic %q: %q", where, d.Summary, d.Detail)
	}
	// step "test_brittle" "a" { is line 3 of main.hcl, from column 1.
	if d.Range == nil || d.Range.String() != "main.hcl:3:1" || d.Range.EndLine != 3 {
		t.Errorf("%s: range %+v, want main.hcl:3:1", where, d.Range)
	}
	if got := valuesText(d); got != `change.before = {"value":"old"}; change.after = {"value":"new"}` {
		t.Errorf("%s: values %q", where, got)
	}
}

// revertRecordDiags returns the diagnostics of the journal's records of
// kind for addr, one slice per record.
func revertRecordDiags(t *testing.T, h *harness, runID string, kind journal.Kind, addr string) [][]Diagnostic {
	t.Helper()
	recs, err := h.e.Store.Records(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]Diagnostic
	for _, r := range recs {
		if r.Kind != kind || r.Step != addr {
			continue
		}
		var fd FailureData
		if err := json.Unmarshal(r.Data, &fd); err != nil {
			t.Fatalf("record %d (%s): %v: %q", r.Seq, r.Kind, err, r.Data)
		}
		out = append(out, fd.Diagnostics)
	}
	return out
}

// checkReportAndRecord runs check on a not-reverted change's diagnostics
// in the report, and on those of the one journal record of kind for addr.
func checkReportAndRecord(t *testing.T, h *harness, runID string, kind journal.Kind, addr string, report []Diagnostic, check func(where string, ds []Diagnostic)) {
	t.Helper()
	check("report", report)
	recs := revertRecordDiags(t, h, runID, kind, addr)
	if len(recs) != 1 {
		t.Fatalf("%d %s records for %s, want 1", len(recs), kind, addr)
	}
	check("journal", recs[0])
}

// A revert that fails in the rollback that follows a failed apply keeps
// its diagnostic: the report and the journal's revert-failure record name
// the step's block and the change it was to undo.
func TestAutomaticRollbackKeepsRevertDiagnostics(t *testing.T) {
	h := newHarness(t)
	theWorld.set("a", "old")
	rep := h.apply(brittleSrc, nil)
	if rep.Status != journal.StatusRollbackFailed || !rep.Status.Valid() {
		t.Fatalf("status %q, want rollback-failed\n%s", rep.Status, h.log.String())
	}
	if len(rep.NotReverted) != 1 || rep.NotReverted[0].Address != "step.test_brittle.a" || rep.NotReverted[0].Err != "test: a is locked" {
		t.Fatalf("not reverted %+v", rep.NotReverted)
	}
	wantRevertDiag(t, "report", rep.NotReverted[0].Diagnostics)
	recs := revertRecordDiags(t, h, rep.RunID, journal.KindRevertFailure, "step.test_brittle.a")
	if len(recs) != 1 {
		t.Fatalf("%d revert-failure records, want 1", len(recs))
	}
	wantRevertDiag(t, "journal", recs[0])
}

// `rebind rollback RUN` of a run that succeeded keeps the same
// diagnostic, and a second rollback adds its own record.
func TestRollbackKeepsRevertDiagnostics(t *testing.T) {
	h := newHarness(t)
	theWorld.set("a", "old")
	src := strings.Replace(brittleSrc, "fail  = true", "fail  = false", 1)
	rep := h.apply(src, nil)
	if rep.Status != journal.StatusSucceeded {
		t.Fatalf("apply %q\n%s", rep.Status, h.log.String())
	}
	for round := 1; round <= 2; round++ {
		rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if rb.Status != journal.StatusRollbackFailed {
			t.Fatalf("round %d: status %q", round, rb.Status)
		}
		// b is reverted first (newest, in the first round only), then a
		// fails.
		if len(rb.Reverted) != 2-round || len(rb.NotReverted) != 1 {
			t.Fatalf("round %d: reverted %v, not reverted %+v", round, rb.Reverted, rb.NotReverted)
		}
		wantRevertDiag(t, fmt.Sprintf("round %d report", round), rb.NotReverted[0].Diagnostics)
		recs := revertRecordDiags(t, h, rep.RunID, journal.KindRevertFailure, "step.test_brittle.a")
		if len(recs) != round {
			t.Fatalf("round %d: %d revert-failure records", round, len(recs))
		}
		wantRevertDiag(t, fmt.Sprintf("round %d journal", round), recs[round-1])
	}
}

// A change rollback refuses to revert (an irreversible step type) is
// reported with the step's range and kept in a note of the journal.
func TestRollbackKeepsRefusedRevertDiagnostics(t *testing.T) {
	h := newHarness(t)
	theWorld.set("gone", "here")
	rep := h.apply(header+`
step "test_purge" "gone" {
  key = "gone"
}
`, nil)
	if rep.Status != journal.StatusSucceeded {
		t.Fatalf("apply %q\n%s", rep.Status, h.log.String())
	}
	rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(rb.NotReverted) != 1 || rb.NotReverted[0].Err != "a purged key cannot be brought back" {
		t.Fatalf("not reverted %+v", rb.NotReverted)
	}
	check := func(where string, ds []Diagnostic) {
		if len(ds) != 1 || ds[0].Summary != "Not reverted" || ds[0].Detail != "a purged key cannot be brought back" ||
			ds[0].Range == nil || ds[0].Range.String() != "main.hcl:3:1" {
			t.Errorf("%s: diagnostics %+v", where, ds)
		}
	}
	checkReportAndRecord(t, h, rep.RunID, journal.KindNote, "step.test_purge.gone", rb.NotReverted[0].Diagnostics, check)
}

// A revert whose withheld secret the runbook cannot give again keeps the
// diagnostic of the evaluation that failed (its range, and its values with
// the secret hidden) after the one that says why the change was not
// reverted, in the report and in the journal's note.
func TestRollbackKeepsWithheldEvaluationDiagnostics(t *testing.T) {
	h := newHarness(t)
	src := header + `
variable "pin" {
  type      = string
  sensitive = true
}
step "exec" "mark" {
  command = ["sh", "-c", "printf %s \"$PIN\" > did.txt"]
  undo    = ["sh", "-c", "printf %s \"$PIN\" > undone.txt"]
  env     = { PIN = tonumber(var.pin) }
}
`
	rep := h.apply(src, map[string]string{"pin": "4711"})
	if rep.Status != journal.StatusSucceeded {
		t.Fatalf("apply %q\n%s", rep.Status, h.log.String())
	}
	// The pin given again is not a number: the env's evaluation fails.
	secret := diagCanary(t)
	rb, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{Vars: map[string]string{"pin": secret}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if rb.Status != journal.StatusRollbackFailed || len(rb.NotReverted) != 1 {
		t.Fatalf("status %q, not reverted %+v", rb.Status, rb.NotReverted)
	}
	check := func(where string, ds []Diagnostic) {
		t.Helper()
		if len(ds) != 2 {
			t.Fatalf("%s: diagnostics %+v, want why and the evaluation's", where, ds)
		}
		if ds[0].Summary != "Not reverted" || !strings.Contains(ds[0].Detail, "revert it by hand") ||
			ds[0].Range == nil || ds[0].Range.String() != "main.hcl:7:1" {
			t.Errorf("%s: first diagnostic %+v", where, ds[0])
		}
		// tonumber(var.pin) is on line 10, from column 21.
		if ds[1].Range == nil || ds[1].Range.Line != 10 || ds[1].Range.Filename != "main.hcl" {
			t.Errorf("%s: evaluation's diagnostic %+v, want main.hcl line 10", where, ds[1])
		}
		if got := valuesText(ds[1]); got != `var.pin = "(sensitive)"` {
			t.Errorf("%s: values %q", where, got)
		}
		if b, _ := json.Marshal(ds); strings.Contains(string(b), secret) {
			t.Errorf("%s: the secret shows: %s", where, b)
		}
	}
	checkReportAndRecord(t, h, rep.RunID, journal.KindNote, "step.exec.mark", rb.NotReverted[0].Diagnostics, check)
}

// A write left in doubt by a crash is reverted from its intent; when that
// revert fails, its diagnostic says the write was in doubt, with the
// step's range and the values of the intent's change.
func TestRollbackOfInDoubtWriteKeepsDiagnostics(t *testing.T) {
	h := newHarness(t)
	src := strings.Replace(brittleSrc, "fail  = true", "fail  = false", 1)
	p := h.plan(src, nil)
	ctx := context.Background()
	// A crash right after a's intent became durable: a run whose journal
	// ends with that intent.
	run, err := h.e.Store.CreateRun(ctx, journal.Run{Runbook: "t", Plan: p.CanonicalBytes(), Dir: h.dir, Status: journal.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	obj := func(m map[string]cty.Value) *typedValue {
		tv, err := encodeTyped(cty.ObjectVal(m))
		if err != nil {
			t.Fatal(err)
		}
		return tv
	}
	intent := intentData{
		Config: obj(map[string]cty.Value{"key": cty.StringVal("a"), "value": cty.StringVal("new"),
			"fail": cty.False, "secret": cty.NullVal(cty.String)}),
		Change: changeData{Action: string(steps.Update),
			Before: obj(map[string]cty.Value{"value": cty.StringVal("old")}),
			After:  obj(map[string]cty.Value{"value": cty.StringVal("new")})},
	}
	if _, err := h.e.Store.Append(ctx, journal.Record{RunID: run.ID, Kind: journal.KindIntent, Step: "step.test_brittle.a", Data: mustJSON(intent)}); err != nil {
		t.Fatal(err)
	}
	rb, diags := h.e.Rollback(ctx, run.ID, Inputs{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if rb.Status != journal.StatusRollbackFailed || len(rb.NotReverted) != 1 {
		t.Fatalf("status %q, not reverted %+v\n%s", rb.Status, rb.NotReverted, h.log.String())
	}
	check := func(where string, ds []Diagnostic) {
		t.Helper()
		if len(ds) != 1 || ds[0].Summary != "Revert of an in-doubt write failed" || ds[0].Detail != "test: a is locked" ||
			ds[0].Range == nil || ds[0].Range.String() != "main.hcl:3:1" ||
			valuesText(ds[0]) != `change.before = {"value":"old"}; change.after = {"value":"new"}` {
			t.Errorf("%s: diagnostics %+v", where, ds)
		}
	}
	checkReportAndRecord(t, h, run.ID, journal.KindRevertFailure, "step.test_brittle.a", rb.NotReverted[0].Diagnostics, check)
}

// A postcondition that fails at apply and makes the run roll back keeps
// its diagnostic next to the rollback's outcome: the report's failure and
// the journal's note keep the condition's range and values, and the
// changes reverted carry none.
func TestPostconditionFailureKeepsDiagnosticsThroughRollback(t *testing.T) {
	h := newHarness(t)
	theWorld.set("a", "old")
	rep := h.apply(header+`
step "test_value" "a" {
  key   = "a"
  value = "new"
}

step "test_value" "b" {
  key   = "b"
  value = "live"
  postcondition {
    condition     = self.observed.value == "ready"
    error_message = "b moved on from ready."
  }
  on_failure = rollback
}
`, nil)
	if rep.Status != journal.StatusRolledBack || len(rep.Reverted) != 2 || len(rep.NotReverted) != 0 {
		t.Fatalf("status %q, reverted %v, not reverted %+v\n%s", rep.Status, rep.Reverted, rep.NotReverted, h.log.String())
	}
	if theWorld.get("a") != "old" || theWorld.get("b") != "" {
		t.Errorf("world a=%q b=%q after the rollback", theWorld.get("a"), theWorld.get("b"))
	}
	if len(rep.Failures) != 1 || len(rep.Failures[0].Diagnostics) != 1 {
		t.Fatalf("failures %+v", rep.Failures)
	}
	d := rep.Failures[0].Diagnostics[0]
	// The condition is on line 12 of main.hcl, from column 21.
	if d.Summary != "Postcondition failed" || d.Range == nil || d.Range.String() != "main.hcl:12:21" ||
		valuesText(d) != `self.observed.value = "live"` {
		t.Errorf("diagnostic %+v", d)
	}
	notes := revertRecordDiags(t, h, rep.RunID, journal.KindNote, "step.test_value.b")
	if len(notes) != 1 || len(notes[0]) != 1 || notes[0][0].Range == nil || notes[0][0].Range.String() != "main.hcl:12:21" {
		t.Errorf("the journal's notes for b keep %+v", notes)
	}
}
