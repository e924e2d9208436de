package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/rebind-dev/rebind/engine/addrs"
	"github.com/rebind-dev/rebind/engine/plan"
)

// approveGateType is the step type that pauses a run until a person
// records a go-ahead for it (steps/core's approve, which asks
// steps.RunContext.StepApproval).
const approveGateType = "approve"

// IsApproveGate reports whether a step of type stepType is an approve
// gate: a run pauses at it until `rebind approve-step` records a go-ahead.
func IsApproveGate(stepType string) bool { return stepType == approveGateType }

// ApproveStep records by's go-ahead for the approve gate addr of run
// runID, and returns the run's id. It refuses a step the run does not
// have, or one that is not an approve gate: a mistyped address would
// otherwise be recorded, and the run would stay paused with no word of
// why.
func (e *Engine) ApproveStep(ctx context.Context, runID, addr, by string) (string, error) {
	run, err := e.Store.Run(ctx, runID)
	if err != nil {
		return "", err
	}
	p, err := plan.Decode(run.Plan, "run "+run.ID)
	if err != nil {
		return "", err
	}
	if err := checkApproveGate(p, run.ID, addr); err != nil {
		return "", err
	}
	if err := e.Store.ApproveStep(ctx, run.ID, addr, by); err != nil {
		return "", err
	}
	return run.ID, nil
}

// checkApproveGate refuses addr unless it is an approve gate of the run's
// plan p: one of its instances, or any key of a fan-out whose keys were
// decided at apply.
func checkApproveGate(p *plan.Plan, runID, addr string) error {
	base := addrs.StepOf(addr)
	var gates []string
	for _, st := range p.Steps {
		if !IsApproveGate(st.Type) || st.Mode == "data" {
			continue
		}
		var instances []string
		for in := range st.All {
			if in.Address == addr || in.Action == plan.ActionDeferred {
				return nil // that gate, or a fan-out whose keys were decided at apply
			}
			instances = append(instances, in.Address)
		}
		gates = append(gates, instances...)
		if st.Address == base && len(instances) == 0 {
			return nil
		}
	}
	if len(gates) == 0 {
		return fmt.Errorf("run %s has no approve step; %s is not one", runID, addr)
	}
	return fmt.Errorf("run %s has no approve step %s; its approve steps are %s", runID, addr, strings.Join(gates, ", "))
}
