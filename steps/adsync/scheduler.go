package adsync

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func init() {
	steps.Register(schedulerStep{})
}

// Scheduler is the optional capability of a Driver whose sync engine has
// Entra Connect's built-in scheduler, which runs a Delta cycle every 30
// minutes unless held: "To disable the scheduler, run Set-ADSyncScheduler
// -SyncCycleEnabled $false ... do not forget to enable the scheduler again
// with Set-ADSyncScheduler -SyncCycleEnabled $true"
// (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler).
// A driver without it (Cloud Sync) makes adsync_scheduler fail with a
// message saying so.
type Scheduler interface {
	// SchedulerEnabled reports Get-ADSyncScheduler's SyncCycleEnabled.
	SchedulerEnabled(ctx context.Context) (bool, error)
	// SetSchedulerEnabled runs Set-ADSyncScheduler -SyncCycleEnabled.
	SetSchedulerEnabled(ctx context.Context, on bool) error
}

// schedulerArgv is the command driver's command with the argument that
// starts a cycle (the one holding {policy}) replaced by script: the same
// way onto the Connect server, another cmdlet.
func (d *CommandDriver) schedulerArgv(script string) ([]string, error) {
	argv := append([]string(nil), d.Command...)
	for i, a := range argv {
		if strings.Contains(a, "{policy}") {
			argv[i] = script
			return argv, nil
		}
	}
	return nil, steps.Permanent(errors.New("adsync: the command target's command has no argument holding {policy} (the Start-ADSyncSyncCycle text) " +
		"for rebind to replace with the scheduler cmdlets; hold the scheduler by hand with Set-ADSyncScheduler -SyncCycleEnabled $false"))
}

// schedulerCmdlet runs one scheduler cmdlet on the Connect server: through
// the target's shell when it has one, else through its command with the
// cycle's argument replaced. A permanent error when neither can carry it.
func (d *CommandDriver) schedulerCmdlet(ctx context.Context, script string) (string, error) {
	if len(d.Shell) > 0 {
		return d.powershell(ctx, script)
	}
	argv, err := d.schedulerArgv(script)
	if err != nil {
		return "", err
	}
	return runCommand(ctx, argv)
}

// SchedulerEnabled runs Get-ADSyncScheduler and reads SyncCycleEnabled.
func (d *CommandDriver) SchedulerEnabled(ctx context.Context) (bool, error) {
	out, err := d.schedulerCmdlet(ctx, "(Get-ADSyncScheduler).SyncCycleEnabled")
	if err != nil {
		return false, fmt.Errorf("adsync: read the scheduler: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(lastLine(out))) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, steps.Permanent(fmt.Errorf("adsync: (Get-ADSyncScheduler).SyncCycleEnabled printed %q; want True or False", strings.TrimSpace(out)))
}

// SetSchedulerEnabled runs Set-ADSyncScheduler -SyncCycleEnabled.
func (d *CommandDriver) SetSchedulerEnabled(ctx context.Context, on bool) error {
	if _, err := d.schedulerCmdlet(ctx, "Set-ADSyncScheduler -SyncCycleEnabled $"+strconv.FormatBool(on)); err != nil {
		return fmt.Errorf("adsync: set the scheduler's SyncCycleEnabled to %t: %w", on, err)
	}
	return nil
}

// schedulerStep is the adsync_scheduler type.
type schedulerStep struct{}

func (schedulerStep) Info() steps.Info {
	return steps.Info{
		Name: "adsync_scheduler",
		Doc: "Holds or releases Entra Connect's scheduler, which otherwise runs a Delta cycle every 30 minutes, also " +
			"between two steps of a runbook: enabled = false runs Set-ADSyncScheduler -SyncCycleEnabled $false, true " +
			"runs it with $true. Cycles a runbook starts itself still run. Rollback sets it back as it was. The " +
			"command driver runs the target's command with its Start-ADSyncSyncCycle argument (the one holding " +
			"{policy}) replaced by the scheduler cmdlet; the observed value has sync_cycle_enabled, so a later step " +
			"can put back what was there.",
		Kind:   steps.KindEnsure,
		Target: "adsync",
		Schema: steps.Schema{
			"enabled": {Type: cty.Bool, Required: true, Doc: "false holds the scheduler's cycles, true lets them run."},
		},
		Reversibility: steps.Reversible,
		Permissions:   []string{"Connect server: a member of ADSyncOperators (driver command)"},
	}
}

func scheduler(call steps.Call) (Scheduler, Driver, error) {
	d, err := driver(call)
	if err != nil {
		return nil, nil, err
	}
	s, ok := d.(Scheduler)
	if !ok {
		return nil, d, steps.Permanent(fmt.Errorf("adsync: %s: the %s driver has no Connect scheduler to hold", call.Address, d.Name()))
	}
	return s, d, nil
}

func (schedulerStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	s, d, err := scheduler(call)
	if err != nil {
		return steps.Observation{}, err
	}
	on, err := s.SchedulerEnabled(ctx)
	if err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{Object: "adsync:" + d.Name() + ":scheduler",
		Value: cty.ObjectVal(map[string]cty.Value{"sync_cycle_enabled": cty.BoolVal(on)})}, nil
}

func (schedulerStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	want, ok := steps.Bool(call.Config, "enabled")
	if !ok {
		return steps.Change{}, steps.Permanent(fmt.Errorf("adsync: %s: enabled must be true or false", call.Address))
	}
	after := cty.ObjectVal(map[string]cty.Value{"sync_cycle_enabled": cty.BoolVal(want)})
	ch := steps.Change{Action: steps.Update, Before: obs.Value, After: after}
	if obs.Value.GetAttr("sync_cycle_enabled").True() == want {
		ch.Action = steps.NoOp
	}
	return ch, nil
}

func (schedulerStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	if change.Action == steps.NoOp {
		return steps.Result{}, nil
	}
	s, _, err := scheduler(call)
	if err != nil {
		return steps.Result{}, err
	}
	return steps.Result{}, s.SetSchedulerEnabled(ctx, change.After.GetAttr("sync_cycle_enabled").True())
}

// Revert puts the scheduler back as it was before Apply.
func (schedulerStep) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	if change.Action == steps.NoOp {
		return nil
	}
	s, _, err := scheduler(call)
	if err != nil {
		return err
	}
	return s.SetSchedulerEnabled(ctx, change.Before.GetAttr("sync_cycle_enabled").True())
}
