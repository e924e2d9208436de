package cli

import (
	"fmt"
	"time"

	"github.com/rebind-dev/rebind/engine/plan"
)

// checkPlan refuses a saved plan that expired or lacks approvals.
func checkPlan(p *plan.Plan, now time.Time) error {
	if now.After(p.Expires) {
		return fmt.Errorf("the plan expired at %s; make a new one", p.Expires.Format(time.RFC3339))
	}
	if n := p.RequiredApprovals(); n > 0 {
		return fmt.Errorf("the plan needs %d approvals and this build cannot verify approval signatures yet", n)
	}
	return nil
}
