package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/rebind-dev/rebind/engine/journal"
)

// ResumeOptions carries a person's decisions for in-doubt actions.
type ResumeOptions struct {
	// Decide maps an instance address to "done" (it completed; do not run
	// it again) or "rerun" (run it again).
	Decide map[string]string
}

// Resume continues a run that stopped: after a failure, a pause or a crash.
// Completed instances are not touched; in-doubt ones are observed again.
func (e *Engine) Resume(ctx context.Context, runID string, in Inputs, opt ResumeOptions) (*Report, hcl.Diagnostics) {
	run, s, rp, release, diags := e.openRun(ctx, runID, in)
	if diags.HasErrors() {
		return nil, diags
	}
	defer release()
	defer s.close()
	switch run.Status {
	case journal.StatusSucceeded, journal.StatusRolledBack:
		return &Report{RunID: run.ID, Status: run.Status}, append(diags, errDiag("Nothing to resume",
			fmt.Errorf("run %s already ended as %s", run.ID, run.Status)))
	case journal.StatusAborted:
		// Left by an older rebind, which created a run before taking its
		// locks: refused for a lock, it wrote nothing, holds no locks and
		// was never checked for drift, so it must not run now.
		again := "apply the runbook again"
		if run.PlanDigest != "" {
			again = "its plan counts as applied, so make a new plan and apply that"
		}
		return &Report{RunID: run.ID, Status: run.Status}, append(diags, errDiag("Nothing to resume",
			fmt.Errorf("run %s never started (%s) and wrote nothing; %s", run.ID, run.Error, again)))
	}
	if err := checkDecisions(rp, opt.Decide); err != nil {
		return &Report{RunID: run.ID, Status: run.Status}, append(diags, errDiag("Decision for an action not in doubt", err))
	}
	if err := e.Store.SetStatus(ctx, run.ID, journal.StatusRunning, ""); err != nil {
		return nil, append(diags, errDiag("Cannot resume", err))
	}
	s.logf("Resuming run %s (%s).\n", run.ID, run.Runbook)
	return s.cleanReport(s.execute(ctx, rp, opt.Decide)), s.secrets.scrubDiags(diags)
}

// checkDecisions refuses a person's decision about an action the journal
// does not hold in doubt: a mistyped address, or an action that completed
// or never started, would otherwise be ignored while the person believes
// it settled something.
func checkDecisions(rp *replay, decide map[string]string) error {
	var wrong []string
	for _, addr := range slices.Sorted(maps.Keys(decide)) {
		if !rp.inst[addr].inDoubt() {
			wrong = append(wrong, addr)
		}
	}
	if len(wrong) == 0 {
		return nil
	}
	var doubt []string
	for _, addr := range rp.order {
		if rp.inst[addr].inDoubt() {
			doubt = append(doubt, addr)
		}
	}
	held := "nothing is in doubt"
	if len(doubt) > 0 {
		held = "in doubt: " + strings.Join(doubt, ", ")
	}
	return fmt.Errorf("--done and --rerun settle actions in doubt, and the run holds no such action at %s (%s); nothing was resumed",
		strings.Join(wrong, ", "), held)
}
