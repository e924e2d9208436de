package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/plan"
)

// fanOutSrc fans test_value out over the rows of users.csv: each row's
// key gets the value "bound"; its `fail` column is an argument that does
// not change what the instance does, unless the instance writes.
const fanOutSrc = header + `
step "test_value" "each" {
  for_each = { for r in csvdecode(file("users.csv")) : r.upn => r }
  key      = each.key
  value    = "bound"
  fail     = each.value.fail == "yes"
}
`

func writeUsers(t *testing.T, h *harness, rows ...string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, "users.csv"), []byte("upn,fail\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// planFanOut plans fanOutSrc over users a@x, b@x, ... (none failing), the
// world holding states[i] for the i-th: "bound" is already so, anything
// else a change.
func planFanOut(t *testing.T, h *harness, states ...string) *plan.Plan {
	t.Helper()
	var rows []string
	for i, st := range states {
		upn := string(rune('a'+i)) + "@x"
		rows = append(rows, upn+",no")
		theWorld.set(upn, st)
	}
	writeUsers(t, h, rows...)
	return h.plan(fanOutSrc, nil)
}

// An instance of a fan-out that changes nothing is a row of the step's
// Unchanged (key, object, fingerprint), and observed objects are stored
// once in the plan's Objects: the plan file holds no object of an
// unchanged instance.
func TestUnchangedInstancesAreRecordedByFingerprint(t *testing.T) {
	h := newHarness(t)
	p := planFanOut(t, h, "bound", "stale", "bound", "bound")
	st := p.Steps[0]
	if len(st.Unchanged) != 3 || len(st.Instances) != 1 || st.Instances[0].Key != "b@x" {
		t.Fatalf("instances %+v, unchanged %+v: want b@x whole and a, c, d as rows", st.Instances, st.Unchanged)
	}
	if in := st.Instances[0]; in.ObservedRef == "" || !in.Observed.IsZero() || p.ObservedValue(in).String() != `{"key":"b@x","value":"stale"}` {
		t.Errorf("the changed instance's observed object: ref %q, inline %s, stored %s", in.ObservedRef, in.Observed, p.ObservedValue(in))
	}
	if len(p.Objects) != 1 {
		t.Errorf("objects = %v, want only b@x's", p.Objects)
	}
	var order []string
	for in, unchanged := range st.All {
		order = append(order, in.Address)
		if unchanged != (in.Action == plan.ActionNoOp) || (unchanged && in.Object != "test:"+in.Key) {
			t.Errorf("%s: unchanged=%v action %s object %s", in.Address, unchanged, in.Action, in.Object)
		}
	}
	if got := strings.Join(order, " "); got != `step.test_value.each["a@x"] step.test_value.each["b@x"] step.test_value.each["c@x"] step.test_value.each["d@x"]` {
		t.Errorf("All = %s, want every instance in key order", got)
	}
	if got := p.Changes(); got["no-op"] != 3 || got["update"] != 1 {
		t.Errorf("changes = %v", got)
	}
	b := p.CanonicalBytes()
	if strings.Contains(string(b), `"key":"a@x"`) {
		t.Errorf("the plan holds an unchanged instance's object: %s", b)
	}
	// The file reads back with the same digest, and applies.
	path := filepath.Join(h.dir, "fan.plan")
	if err := p.Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := plan.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Digest() != p.Digest() {
		t.Fatalf("digest after write and read %s, want %s", back.Digest(), p.Digest())
	}
	rep, diags := h.e.Apply(context.Background(), back, Inputs{}, ApplyOptions{Saved: true})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded {
		t.Fatalf("apply: %v %+v\n%s", diags, rep, h.log.String())
	}
	if theWorld.get("b@x") != "bound" || theWorld.count(theWorld.applies, "a@x") != 0 {
		t.Errorf("b@x = %q, a@x written %d times", theWorld.get("b@x"), theWorld.count(theWorld.applies, "a@x"))
	}
}

// Apply's drift check compares the fingerprint of an unchanged instance
// with the one it computes again: an object that changed, or an argument
// that changed (a CSV row edited after review), refuses the plan, even
// when the instance would still change nothing.
func TestDriftOfAnUnchangedInstanceRefusesApply(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(h *harness)
		want   string
	}{
		{"object", func(h *harness) { theWorld.set("b@x", "someone else") }, "planned action: no-op -> update"},
		{"argument", func(h *harness) { writeUsers(t, h, "a@x,no", "b@x,yes") }, "changed since review (fingerprint "},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			p := planFanOut(t, h, "stale", "bound")
			if len(p.Steps[0].Unchanged) != 1 {
				t.Fatalf("unchanged = %+v, want b@x", p.Steps[0].Unchanged)
			}
			c.change(h)
			rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if !rep.Refused() || len(rep.Drift) != 1 || rep.Drift[0].Address != `step.test_value.each["b@x"]` || rep.Drift[0].Object != "test:b@x" {
				t.Fatalf("report %+v, want b@x's drift", rep)
			}
			if got := strings.Join(rep.Drift[0].Attributes, "; "); !strings.Contains(got, c.want) {
				t.Errorf("drift says %q, want %q", got, c.want)
			}
			if theWorld.count(theWorld.applies, "a@x") != 0 {
				t.Errorf("a@x was written despite the drift")
			}
		})
	}
}

// The digest covers the fingerprints of unchanged instances: one edited
// in the file is refused at apply, as drift of that instance, whatever
// approvals the plan carries (plan/sign_test.go shows that they no longer
// hold).
func TestEditedUnchangedFingerprintIsRefused(t *testing.T) {
	h := newHarness(t)
	p := planFanOut(t, h, "bound", "bound")
	digest := p.Digest()
	p.Steps[0].Unchanged[1].Fingerprint = strings.Repeat("0", 64)
	if p.Digest() == digest {
		t.Fatal("the digest does not cover an unchanged instance's fingerprint")
	}
	rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if !rep.Refused() || len(rep.Drift) != 1 || rep.Drift[0].Address != `step.test_value.each["b@x"]` {
		t.Fatalf("report %+v, want b@x refused", rep)
	}
}

// A plan of format version 1 (written by an earlier rebind) is not applied:
// the error names both versions and says to plan again. Nothing runs.
func TestApplyRefusesFormatVersion1(t *testing.T) {
	h := newHarness(t)
	p := h.plan(header+`
step "test_value" "a" {
  key   = "a"
  value = "1"
}
`, nil)
	p.FormatVersion = 1
	for i := range p.Steps {
		for j := range p.Steps[i].Instances {
			in := &p.Steps[i].Instances[j]
			in.Observed, in.ObservedRef = p.ObservedValue(*in), ""
		}
	}
	p.Objects = nil
	_, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "format version 1") || !strings.Contains(diags.Error(), "format version 2") || !strings.Contains(diags.Error(), "make a new plan") {
		t.Fatalf("diags = %v, want a refusal naming format versions 1 and 2", diags)
	}
	if theWorld.get("a") != "" {
		t.Errorf("a was written")
	}
	if runs, _ := h.e.Store.Runs(context.Background()); len(runs) != 0 {
		t.Errorf("a run was created: %+v", runs)
	}
}

// A step that is not fanned out keeps its instance whole even when it
// changes nothing.
func TestSingleNoOpStaysWhole(t *testing.T) {
	h := newHarness(t)
	theWorld.set("a", "1")
	p := h.plan(header+`
step "test_value" "a" {
  key   = "a"
  value = "1"
}
`, nil)
	if st := p.Steps[0]; len(st.Unchanged) != 0 || len(st.Instances) != 1 || st.Instances[0].Action != plan.ActionNoOp || st.Instances[0].ObservedRef == "" {
		t.Fatalf("step = %+v, want one whole no-op instance with its observed object", st)
	}
}

// A run journaled with a plan of format version 1 (by an earlier rebind)
// still resumes and rolls back: its plan is read from the journal as it
// was written.
func TestRunWithAVersion1PlanResumesAndRollsBack(t *testing.T) {
	h := newHarness(t)
	p := planFanOut(t, h, "bound", "stale")
	// The same plan as format version 1 wrote it: every instance whole,
	// its observed object inline.
	var rows []plan.Instance
	for in := range p.Steps[0].All {
		rows = append(rows, in)
	}
	for i := range rows {
		rows[i].Observed, rows[i].ObservedRef = p.ObservedValue(rows[i]), ""
	}
	p.Steps[0].Instances, p.Steps[0].Unchanged, p.Objects, p.FormatVersion = rows, nil, nil, 1
	ctx := context.Background()
	run, err := h.e.Store.CreateRunLocking(ctx, journal.Run{Runbook: p.Runbook.Name, RunbookDigest: p.Runbook.Digest,
		Dir: h.dir, Inputs: []byte("{}"), Plan: p.CanonicalBytes(), Status: journal.StatusRunning}, []string{"test:a@x", "test:b@x"})
	if err != nil {
		t.Fatal(err)
	}
	rep, diags := h.e.Resume(ctx, run.ID, Inputs{}, ResumeOptions{})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded {
		t.Fatalf("resume of a run with a version 1 plan: %v %+v\n%s", diags, rep, h.log.String())
	}
	if theWorld.get("b@x") != "bound" {
		t.Fatalf("b@x = %q after the resume", theWorld.get("b@x"))
	}
	rep, diags = h.e.Rollback(ctx, run.ID, Inputs{})
	if diags.HasErrors() || theWorld.get("b@x") != "stale" {
		t.Fatalf("rollback: %v %+v; b@x = %q", diags, rep, theWorld.get("b@x"))
	}
}

// An unchanged instance whose arguments hold a secret has a keyed
// fingerprint: a plain SHA-256 of the arguments could be tested against
// guesses of the secret.
func TestUnchangedFingerprintOfASecretIsKeyed(t *testing.T) {
	h := newHarness(t)
	writeUsers(t, h, "a@x,no")
	theWorld.set("a@x", "bound")
	p := h.plan(header+`
variable "pw" {
  type      = string
  sensitive = true
}
step "test_value" "each" {
  for_each = { for r in csvdecode(file("users.csv")) : r.upn => r }
  key      = each.key
  value    = "bound"
  secret   = var.pw
}
`, map[string]string{"pw": "hunter2-secret"})
	un := p.Steps[0].Unchanged
	if len(un) != 1 || !strings.HasPrefix(un[0].Fingerprint, "hmac:") || p.KeyID != h.e.KeyID() {
		t.Fatalf("unchanged %+v, key id %q: want a keyed fingerprint under %s", un, p.KeyID, h.e.KeyID())
	}
	if strings.Contains(string(p.CanonicalBytes()), "hunter2-secret") {
		t.Fatal("the plan holds the secret")
	}
}
