package adsync

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/credential"
)

var _ steps.Doctor = targetType{}

// Doctor checks how the target would run a cycle, without starting one:
//
//   - driver command: that the program is there, and that the
//     status_command answers True or False: it runs through the same
//     driver code as a wait does, e.g. (Get-ADSyncScheduler).SyncCycleInProgress
//     over SSH, a harmless read of the Connect scheduler
//     (https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler).
//     Membership of the Connect groups cannot be seen without starting a
//     cycle, so doctor says so.
//   - driver cloudsync: a Graph token and its permissions, as for entra.
//   - a registered driver: that it opens, and answers whether its
//     scheduler runs when it has one.
func (targetType) Doctor(ctx context.Context, req steps.DoctorRequest) []steps.Check {
	cfg := req.Config
	driver, _ := steps.String(cfg.Config, "driver")
	var needs []steps.Permission
	for _, n := range req.Needs {
		if d := n.Driver(); d == "" || d == driver {
			needs = append(needs, n)
		}
	}
	switch driver {
	case "command":
		return commandChecks(ctx, cfg, needs)
	case "cloudsync":
		if _, _, err := cloudJobIDs(cfg); err != nil {
			return []steps.Check{steps.Failed("settings", err.Error(), "set service_principal_id and job_id in the environment")}
		}
		graph := graphEndpoint(cfg)
		const fix = "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH; docs/setup.md"
		checks, _ := credential.SignIn{Scope: credential.DefaultScope(graph), Service: "Graph", Needs: needs, Fix: fix}.Checks(ctx, cfg)
		return checks
	}
	if _, ok := registered(driver); ok {
		v, err := targetType{}.Open(ctx, cfg)
		if err != nil {
			return []steps.Check{steps.Failed("driver", err.Error(), "check the target's url and ca_file")}
		}
		if sch, ok := v.(Scheduler); ok {
			on, err := sch.SchedulerEnabled(ctx)
			if err != nil {
				return []steps.Check{steps.Failed("scheduler", err.Error(), "check that the sync engine at the target's url is running")}
			}
			return []steps.Check{steps.OK("driver", fmt.Sprintf("driver %s answered: scheduler enabled %v", driver, on))}
		}
		return []steps.Check{steps.OK("driver", "driver "+driver+" opened")}
	}
	return []steps.Check{steps.Failed("driver", fmt.Sprintf("driver %q is not one of %s", driver, strings.Join(driverNames(), ", ")), "set driver in the environment")}
}

const statusExample = `status_command = ["ssh", "connect01", "powershell", "-NoProfile", "-Command", "(Get-ADSyncScheduler).SyncCycleInProgress"]`

// shellChecks checks a command target given as a shell: the program is
// there, and Get-ADSyncScheduler answers (a read; doctor never starts a
// cycle), with staging mode and a suspended scheduler reported as the
// driver would refuse them
// (https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler).
func shellChecks(ctx context.Context, shell []string, needs []steps.Permission) []steps.Check {
	p, err := exec.LookPath(shell[0])
	if err != nil {
		return []steps.Check{steps.Failed("shell", err.Error(), "install "+shell[0]+" on this machine, or give its full path")}
	}
	out := []steps.Check{steps.OK("shell", p+" is there")}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	got, err := (&CommandDriver{Shell: shell}).powershell(sctx, ScriptScheduler)
	if err != nil {
		return append(out, steps.Failed("scheduler", err.Error(), "run Get-ADSyncScheduler through the shell by hand as the same user; check SSH keys, the host, and that the ADSync module is installed there"))
	}
	var sch schedulerState
	if err := json.Unmarshal(lastJSON(got), &sch); err != nil {
		return append(out, steps.Failed("scheduler", fmt.Sprintf("Get-ADSyncScheduler printed %q, not its JSON", strings.TrimSpace(got)), "check that shell ends with -EncodedCommand and runs PowerShell with the ADSync module"))
	}
	switch {
	case sch.StagingModeEnabled:
		out = append(out, steps.Failed("scheduler", "the server is in staging mode: its cycles export nothing", "point the target at the active Connect server"))
	case sch.SchedulerSuspended:
		out = append(out, steps.Failed("scheduler", "the scheduler is suspended (an upgrade or the installation wizard)", "let the upgrade finish or close the wizard"))
	default:
		out = append(out, steps.OK("scheduler", fmt.Sprintf("the server answered: not in staging mode, cycle in progress %v", sch.SyncCycleInProgress)))
	}
	for _, n := range needs {
		if n.Service == "Connect server" {
			out = append(out, steps.Check{Name: "Connect " + n.Name, State: steps.CheckUnknown,
				Detail: "Get-ADSyncScheduler ran; whether the account may start a cycle is not observable without starting one",
				Fix:    "add the account the shell signs in as to the Connect server's ADSyncOperators and ADSyncBrowse groups (or ADSyncAdmins); docs/setup.md"})
		}
	}
	return out
}

func commandChecks(ctx context.Context, cfg steps.TargetConfig, needs []steps.Permission) []steps.Check {
	if shell, _ := steps.Strings(cfg.Config, "shell"); len(shell) > 0 && shell[0] != "" {
		return shellChecks(ctx, shell, needs)
	}
	cmd, _ := steps.Strings(cfg.Config, "command")
	if len(cmd) == 0 || cmd[0] == "" {
		return []steps.Check{steps.Failed("command", "driver command has no command", `set command, e.g. ["ssh", "connect01", "powershell", "-NoProfile", "-Command", "Start-ADSyncSyncCycle -PolicyType {policy}"]`)}
	}
	var out []steps.Check
	if p, err := exec.LookPath(cmd[0]); err != nil {
		return []steps.Check{steps.Failed("command", err.Error(), "install "+cmd[0]+" on this machine, or give its full path")}
	} else {
		out = append(out, steps.OK("command", p+" is there (doctor does not run it: it starts a cycle)"))
	}
	status, _ := steps.Strings(cfg.Config, "status_command")
	connect := func(state steps.CheckState, detail string) {
		for _, n := range needs {
			if n.Service == "Connect server" {
				out = append(out, steps.Check{Name: "Connect " + n.Name, State: state, Detail: detail,
					Fix: "add the account the command signs in as to the Connect server's ADSyncOperators and ADSyncBrowse groups (or ADSyncAdmins); docs/setup.md"})
			}
		}
	}
	if len(status) == 0 || status[0] == "" {
		out = append(out, steps.Unknown("status", "no status_command: rebind cannot wait for a cycle to end, nor reach the server without starting one", "set "+statusExample))
		connect(steps.CheckUnknown, "not observable without starting a cycle")
		return out
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	got, err := runCommand(sctx, status)
	if err != nil {
		out = append(out, steps.Failed("status", err.Error(), "run the status_command by hand as the same user; check SSH keys, the host, and that the ADSync module is installed there"))
		return out
	}
	switch v := strings.TrimSpace(lastLine(got)); strings.ToLower(v) {
	case "true":
		out = append(out, steps.OK("status", "the server answered: a cycle is running now"))
	case "false":
		out = append(out, steps.OK("status", "the server answered: no cycle is running"))
	default:
		out = append(out, steps.Failed("status", fmt.Sprintf("status_command printed %q; it must print True or False", v), statusExample))
		return out
	}
	connect(steps.CheckUnknown, "the status command ran; whether the account may start a cycle is not observable without starting one")
	return out
}
