package adsync

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func init() {
	steps.Register(cycleStep{})
}

// cycleStep is the adsync_cycle type.
type cycleStep struct{}

func (cycleStep) Info() steps.Info {
	return steps.Info{
		Name: "adsync_cycle",
		Doc: "Runs a directory sync cycle: Delta (the changes since the last cycle) or Initial (full import, full " +
			"sync and export, which matching needs after cloud objects changed), and waits for it to end where the " +
			"target's driver can tell. The result has the policy, status, start time (use it as entra_user_state's " +
			"errors_since), counts and each object's export error.",
		Kind:   steps.KindAction,
		Target: "adsync",
		Schema: steps.Schema{
			"policy": {Type: cty.String, Doc: "Delta (default) or Initial."},
			"wait":   {Type: cty.Bool, Doc: "Wait for the cycle to end where the driver can tell (default true)."},
			"start_quarantined": {Type: cty.Bool, Doc: "cloudsync: run even a job in quarantine (default false: refused). Starting it " +
				"clears the quarantine, TooManyDeletes included; set it only once the cause is found and fixed."},
		},
		Reversibility:      steps.Irreversible,
		IrreversibleReason: "A sync cycle cannot be undone; what it exported changes back only when AD changes back and another cycle runs.",
		RepeatSafe:         true,
		Permissions: []string{
			// Microsoft's Connect Sync groups: ADSyncOperators may run the
			// management agents and must also be in ADSyncBrowse; ADSyncAdmins
			// may do anything
			// (https://learn.microsoft.com/training/modules/manage-synchronized/4-use-azure-active-directory-connect-sync-security-groups).
			// Which group Start-ADSyncSyncCycle itself checks is not
			// documented.
			"Connect server: a member of ADSyncOperators and ADSyncBrowse, or of ADSyncAdmins (driver command)",
			"Graph: Synchronization.ReadWrite.All (driver cloudsync)",
		},
	}
}

// policyArg reads and checks the policy.
func policyArg(call steps.Call) (string, error) {
	p, ok := steps.String(call.Config, "policy")
	if !ok {
		return "Delta", nil
	}
	switch {
	case strings.EqualFold(p, "Delta"):
		return "Delta", nil
	case strings.EqualFold(p, "Initial"):
		return "Initial", nil
	}
	return "", steps.Permanent(fmt.Errorf("adsync: %s: policy %q must be Delta or Initial", call.Address, p))
}

// cycleCall returns the call's driver and its policy, what Observe and
// Apply both start with.
func cycleCall(call steps.Call) (Driver, string, error) {
	d, err := driver(call)
	if err != nil {
		return nil, "", err
	}
	p, err := policyArg(call)
	return d, p, err
}

func (cycleStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	d, p, err := cycleCall(call)
	if err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{
		// One cycle at a time per sync engine: the engine locks on this.
		Object: "adsync:" + d.Name(),
		Value:  cty.ObjectVal(map[string]cty.Value{"driver": cty.StringVal(d.Name()), "policy": cty.StringVal(p)}),
	}, nil
}

func (cycleStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	return steps.Change{Action: steps.Run, Before: cty.NullVal(obs.Value.Type()), After: obs.Value}, nil
}

var errorType = cty.Object(map[string]cty.Type{"code": cty.String, "object": cty.String, "detail": cty.String})

func (cycleStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	d, p, err := cycleCall(call)
	if err != nil {
		return steps.Result{}, err
	}
	wait, ok := steps.Bool(call.Config, "wait")
	if !ok {
		wait = true
	}
	log := call.Log
	if log == nil {
		log = io.Discard
	}
	startQuarantined, _ := steps.Bool(call.Config, "start_quarantined")
	var c Cycle
	if cs, ok := d.(*CloudSyncDriver); ok {
		c, err = cs.run(ctx, p, wait, log, startQuarantined)
	} else {
		c, err = d.Run(ctx, p, wait, log)
	}
	if err != nil {
		return steps.Result{}, err
	}
	if c.Status == "stopped-deletion-threshold-exceeded" {
		return steps.Result{}, steps.Permanent(fmt.Errorf("adsync: the %s cycle stopped: its export would delete more objects than "+
			"the deletion threshold allows (%d); check the scope before raising the threshold", p, c.Deleted))
	}
	errs := make([]cty.Value, len(c.Errors))
	for i, e := range c.Errors {
		errs[i] = cty.ObjectVal(map[string]cty.Value{"code": cty.StringVal(e.Code), "object": cty.StringVal(e.Object), "detail": cty.StringVal(e.Detail)})
	}
	errList := cty.ListValEmpty(errorType)
	if len(errs) > 0 {
		errList = cty.ListVal(errs)
	}
	finished := cty.NullVal(cty.String)
	if !c.Finished.IsZero() {
		finished = cty.StringVal(c.Finished.UTC().Format(time.RFC3339))
	}
	return steps.Result{Value: cty.ObjectVal(map[string]cty.Value{
		"driver":   cty.StringVal(d.Name()),
		"policy":   cty.StringVal(c.Policy),
		"status":   cty.StringVal(c.Status),
		"started":  cty.StringVal(c.Started.UTC().Format(time.RFC3339)),
		"finished": finished,
		"added":    cty.NumberIntVal(int64(c.Added)),
		"updated":  cty.NumberIntVal(int64(c.Updated)),
		"deleted":  cty.NumberIntVal(int64(c.Deleted)),
		"errors":   errList,
	})}, nil
}
