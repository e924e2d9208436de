package adsync

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/powershell"
)

// The command driver's default: with only a `shell` (the argument list that
// runs one PowerShell command on the Entra Connect server, e.g. ["ssh",
// "connect01", "powershell", "-NoProfile", "-NonInteractive",
// "-EncodedCommand"]), rebind runs Connect's own ADSync cmdlets
// (https://learn.microsoft.com/entra/identity/hybrid/connect/reference-connect-adsync):
// it reads the scheduler (Get-ADSyncScheduler), refuses a server in
// staging mode and waits for a cycle already running, notes the last run,
// starts the cycle (Start-ADSyncSyncCycle -PolicyType), waits until
// SyncCycleInProgress is False, and reads the result of each run profile
// the cycle ran (Get-ADSyncRunProfileResult). A run profile whose result is
// stopped-deletion-threshold-exceeded is the deletion threshold's stop
// (https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-prevent-accidental-deletes).
//
// Each script is a constant of rebind's (only the policy, Delta or Initial,
// and a run number are put in), and is passed Base64-encoded as
// PowerShell's -EncodedCommand takes it, so no shell on the way (ssh, the
// remote cmd.exe) sees its pipes or quotes.
//
// The scheduler's properties (SyncCycleEnabled, StagingModeEnabled,
// SchedulerSuspended, SyncCycleInProgress) are those the scheduler page
// documents (https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler).
// The reference documents Get-ADSyncRunProfileResult's parameters but not
// its output's properties; RunNumber, ConnectorName, RunProfileName,
// Result, StartDate and EndDate are the names public scripts read.

// Scripts the default command driver runs; the lab's Connect shell answers
// exactly these.
const (
	ScriptScheduler   = "Get-ADSyncScheduler | Select-Object SyncCycleEnabled,StagingModeEnabled,SchedulerSuspended,SyncCycleInProgress | ConvertTo-Json -Compress"
	ScriptInProgress  = "(Get-ADSyncScheduler).SyncCycleInProgress"
	ScriptLastRun     = "ConvertTo-Json -Compress -InputObject @(Get-ADSyncRunProfileResult -NumberRequested 1 | Select-Object RunNumber)"
	scriptStartFormat = "Start-ADSyncSyncCycle -PolicyType %s"
	scriptRunsFormat  = "ConvertTo-Json -Compress -InputObject @(Get-ADSyncRunProfileResult -NumberRequested 100 | Where-Object { $_.RunNumber -gt %d } | Select-Object RunNumber,ConnectorName,RunProfileName,Result,StartDate,EndDate)"
)

// ScriptStart is the script that starts a cycle of policy.
func ScriptStart(policy string) string { return fmt.Sprintf(scriptStartFormat, policy) }

// ScriptRunsAfter is the script that reads the run profile results after
// run number n.
func ScriptRunsAfter(n int64) string { return fmt.Sprintf(scriptRunsFormat, n) }

// schedulerState is what Get-ADSyncScheduler reports that rebind reads.
type schedulerState struct {
	SyncCycleEnabled    bool
	StagingModeEnabled  bool
	SchedulerSuspended  bool
	SyncCycleInProgress bool
}

// runProfileResult is one Get-ADSyncRunProfileResult object.
type runProfileResult struct {
	RunNumber      int64
	ConnectorName  string
	RunProfileName string
	Result         string
}

// powershell runs one script through the shell.
func (d *CommandDriver) powershell(ctx context.Context, script string) (string, error) {
	argv := append(append([]string{}, d.Shell...), powershell.EncodeCommand(script))
	return runCommand(ctx, argv)
}

// lastJSON returns the last non-empty line of out, where ConvertTo-Json
// -Compress writes its one line.
func lastJSON(out string) []byte { return []byte(strings.TrimSpace(lastLine(out))) }

// runDefault runs a cycle with the default scripts.
func (d *CommandDriver) runDefault(ctx context.Context, policy string, wait bool, log io.Writer) (Cycle, error) {
	c := Cycle{Policy: policy, Started: time.Now().UTC(), Status: "started"}
	out, err := d.powershell(ctx, ScriptScheduler)
	if err != nil {
		return c, fmt.Errorf("adsync: read the Connect scheduler (Get-ADSyncScheduler): %w", err)
	}
	var sch schedulerState
	if err := json.Unmarshal(lastJSON(out), &sch); err != nil {
		return c, steps.Permanent(fmt.Errorf("adsync: Get-ADSyncScheduler printed %q, not its JSON: %v", strings.TrimSpace(out), err))
	}
	switch {
	case sch.StagingModeEnabled:
		// Staging mode "suppresses the exports from running but still run
		// import and synchronization" (how-to-connect-sync-feature-scheduler;
		// https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-staging-server).
		return c, steps.Permanent(fmt.Errorf("adsync: the Connect server is in staging mode (StagingModeEnabled): its cycles export " +
			"nothing to Entra ID. Point the target at the active server"))
	case sch.SchedulerSuspended:
		// "Set by Connect during an upgrade to temporarily block the
		// scheduler"; the installation wizard suspends it too, and setting
		// it by hand is unsupported (how-to-connect-sync-feature-scheduler).
		return c, steps.Permanent(fmt.Errorf("adsync: the Connect scheduler is suspended (SchedulerSuspended): Connect sets it during " +
			"an upgrade or while its installation wizard is open. Let the upgrade finish or close the wizard, then run again"))
	case sch.SyncCycleInProgress:
		return c, &steps.RetryAfterError{Err: fmt.Errorf("adsync: the Connect server is running a cycle (SyncCycleInProgress)"), After: time.Minute}
	}
	if !sch.SyncCycleEnabled {
		fmt.Fprintln(log, "adsync: the Connect scheduler's cycles are off (SyncCycleEnabled False); starting this one by hand")
	}
	out, err = d.powershell(ctx, ScriptLastRun)
	if err != nil {
		return c, fmt.Errorf("adsync: read the last run (Get-ADSyncRunProfileResult): %w", err)
	}
	var last []runProfileResult
	if err := json.Unmarshal(lastJSON(out), &last); err != nil {
		return c, steps.Permanent(fmt.Errorf("adsync: Get-ADSyncRunProfileResult printed %q, not its JSON: %v", strings.TrimSpace(out), err))
	}
	var before int64
	if len(last) > 0 {
		before = last[0].RunNumber
	}
	fmt.Fprintf(log, "adsync: starting a %s cycle (Start-ADSyncSyncCycle)\n", policy)
	if out, err := d.powershell(ctx, ScriptStart(policy)); err != nil {
		low := strings.ToLower(err.Error() + out)
		if strings.Contains(low, "busy") || strings.Contains(low, "in progress") {
			return c, &steps.RetryAfterError{Err: fmt.Errorf("adsync: the Connect server is running another cycle: %w", err), After: time.Minute}
		}
		return c, fmt.Errorf("adsync: start a %s cycle: %w", policy, err)
	}
	if !wait {
		return c, nil
	}
	err = waitCycle(ctx, d.Poll, policy,
		func(ctx context.Context) (string, error) { return d.powershell(ctx, ScriptInProgress) },
		func(out string) error {
			return fmt.Errorf("adsync: (Get-ADSyncScheduler).SyncCycleInProgress printed %q", strings.TrimSpace(out))
		})
	if err != nil {
		return c, err
	}
	c.Finished = time.Now().UTC()
	out, err = d.powershell(ctx, ScriptRunsAfter(before))
	if err != nil {
		return c, fmt.Errorf("adsync: read the cycle's run profile results: %w", err)
	}
	var runs []runProfileResult
	if err := json.Unmarshal(lastJSON(out), &runs); err != nil {
		return c, steps.Permanent(fmt.Errorf("adsync: Get-ADSyncRunProfileResult printed %q, not its JSON: %v", strings.TrimSpace(out), err))
	}
	if len(runs) == 0 {
		return c, steps.Permanent(fmt.Errorf("adsync: the %s cycle left no run profile result after run %d", policy, before))
	}
	c.Status = "success"
	for _, r := range runs {
		switch res := strings.ToLower(r.Result); {
		case res == "success":
		case res == "stopped-deletion-threshold-exceeded":
			c.Status = res
		default:
			if c.Status == "success" {
				c.Status = res
			}
			c.Errors = append(c.Errors, CycleError{Code: r.Result, Object: r.ConnectorName,
				Detail: fmt.Sprintf("run %d, %s on %s: %s (see the run's step details in Synchronization Service Manager, or Get-ADSyncRunStepResult)",
					r.RunNumber, r.RunProfileName, r.ConnectorName, r.Result)})
		}
	}
	return c, nil
}
