package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An approve gate through the CLI: apply pauses and prints the command to
// run; a go-ahead for a step the run does not have is refused with the
// run's gates named (it used to be recorded, leaving the run paused with no
// word of why); the right one lets resume finish the run.
func TestApproveStepThroughTheCLI(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "main.hcl"), `runbook "gate" {}

step "file" "before" {
  path    = "before.txt"
  content = "1"
}

step "approve" "check" {
  message = "Check that Adele can sign in"
}

step "file" "after" {
  path    = "after.txt"
  content = "2"
}
`)
	out, err := runRebind(t, dir, "apply", "-auto-approve", "main.hcl")
	runs := listRuns(t, dir)
	if len(runs) != 1 || runs[0].Status != "paused" {
		t.Fatalf("apply: %v, runs %+v\n%s", err, runs, out)
	}
	id := runs[0].ID
	if want := "rebind approve-step " + id + " step.approve.check"; !strings.Contains(out, want) {
		t.Errorf("apply output does not say %q:\n%s", want, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "after.txt")); err == nil {
		t.Fatal("after.txt was written before the go-ahead")
	}

	for _, wrong := range []string{"step.approve.chek", "step.file.after", "check"} {
		out, err := runRebind(t, dir, "approve-step", id, wrong)
		if err == nil || !strings.Contains(out, "no approve step "+wrong) || !strings.Contains(out, "step.approve.check") {
			t.Errorf("approve-step %s: %v\n%s", wrong, err, out)
		}
	}
	if out, err := runRebind(t, dir, "resume", id); err == nil || listRuns(t, dir)[0].Status != "paused" {
		t.Fatalf("resume after only wrong go-aheads: %v\n%s", err, out)
	}

	if out, err := runRebind(t, dir, "approve-step", id, "step.approve.check", "--by", "bob"); err != nil {
		t.Fatalf("approve-step: %v\n%s", err, out)
	}
	if out, err := runRebind(t, dir, "resume", id); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if got := listRuns(t, dir)[0].Status; got != "succeeded" {
		t.Fatalf("run %s ended %s", id, got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "after.txt")); err != nil || string(b) != "2" {
		t.Errorf("after.txt = %q, %v", b, err)
	}
}

// A fan-out gate is approved key by key: a key the run does not have is
// refused with the gates it has.
func TestApproveStepFanOutKey(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "main.hcl"), `runbook "gates" {}

step "approve" "each" {
  for_each = toset(["ann", "bob"])
  message  = "Check ${each.key}"
}
`)
	_, _ = runRebind(t, dir, "apply", "-auto-approve", "main.hcl")
	runs := listRuns(t, dir)
	if len(runs) != 1 || runs[0].Status != "paused" {
		t.Fatalf("runs %+v", runs)
	}
	id := runs[0].ID
	out, err := runRebind(t, dir, "approve-step", id, `step.approve.each["cy"]`)
	if err == nil || !strings.Contains(out, `step.approve.each["ann"]`) || !strings.Contains(out, `step.approve.each["bob"]`) {
		t.Fatalf("approve-step of a key the run does not have: %v\n%s", err, out)
	}
	for _, k := range []string{"ann", "bob"} {
		if out, err := runRebind(t, dir, "approve-step", id, `step.approve.each["`+k+`"]`); err != nil {
			t.Fatalf("approve-step %s: %v\n%s", k, err, out)
		}
	}
	if out, err := runRebind(t, dir, "resume", id); err != nil || listRuns(t, dir)[0].Status != "succeeded" {
		t.Fatalf("resume: %v\n%s", err, out)
	}
}
