package engine

import (
	"context"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal"
)

// A report's Status is the status its run was left in, one of the
// journal's, or none at all when no run was created: an apply refused for
// drift creates no run, so it must not invent a status the journal and
// `rebind runs` never know.
func TestReportStatusIsARunStatusOrNone(t *testing.T) {
	h := newHarness(t)
	theWorld.set("a", "old")
	src := header + `
step "test_value" "a" {
  key   = "a"
  value = "new"
}
`
	p := h.plan(src, nil)
	theWorld.set("a", "someone else")
	rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{Policy: approveAll(t, p)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if !rep.Refused() || rep.Status != "" || rep.RunID != "" || len(rep.Drift) != 1 {
		t.Fatalf("refused apply: report %+v, want Refused, no status, no run, one drift", rep)
	}
	runs, err := h.e.Store.Runs(context.Background())
	if err != nil || len(runs) != 0 {
		t.Fatalf("refused apply created runs %+v (%v)", runs, err)
	}

	theWorld.set("a", "old")
	rep = h.apply(src, nil)
	if rep.Refused() || !rep.Status.Valid() || rep.Status != journal.StatusSucceeded {
		t.Fatalf("apply: Refused() = %v, status %q, want a valid %q", rep.Refused(), rep.Status, journal.StatusSucceeded)
	}
}
