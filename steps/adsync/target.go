// Package adsync provides rebind's sync cycle step type (adsync_cycle) and
// the `adsync` target with its three drivers:
//
//   - command runs an argument list without a shell, e.g. ssh to the Entra
//     Connect server running Start-ADSyncSyncCycle -PolicyType {policy}, and
//     waits for the cycle when a status_command can tell (such as
//     (Get-ADSyncScheduler).SyncCycleInProgress). No Graph API triggers
//     Connect Sync.
//   - cloudsync drives an Entra Cloud Sync job through Graph over plain
//     net/http: Initial is a restart resetting the watermark, Delta the
//     job's next scheduled iteration (or a start of a paused job); a job in
//     quarantine is refused unless the step sets start_quarantined. It
//     waits until the job's next execution ends.
//   - lab runs a cycle of a lab tenant (POST /lab/sync?policy=...), which
//     answers when the cycle is over. Under --lab a command target uses it;
//     a cloudsync target keeps its driver, pointed at the lab, which serves
//     the Cloud Sync job calls.
package adsync

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/credential"
)

// Cycle is what a driver knows of a cycle it ran.
type Cycle struct {
	Policy  string
	Status  string
	Started time.Time
	// Finished is when the cycle ended; zero when the driver cannot tell.
	Finished time.Time
	Added    int
	Updated  int
	Deleted  int
	Errors   []CycleError
}

// CycleError is one object's export error.
type CycleError struct {
	Code   string
	Object string
	Detail string
}

// Driver runs one sync cycle of policy "Delta" or "Initial", waiting for
// its end when wait is set and the driver can tell.
type Driver interface {
	Name() string
	Run(ctx context.Context, policy string, wait bool, log io.Writer) (Cycle, error)
}

type targetType struct{}

func init() {
	steps.RegisterTarget(targetType{})
}

func (targetType) Info() steps.TargetInfo {
	return steps.TargetInfo{
		Name: "adsync",
		Doc: "How rebind runs a directory sync cycle: driver = \"command\" (an argument list run without a shell, e.g. " +
			"ssh to the Entra Connect server), \"cloudsync\" (an Entra Cloud Sync job through Graph) or \"lab\" (a lab tenant).",
		Schema: steps.Schema{
			"driver": {Type: cty.String, Required: true, Doc: "command, cloudsync or lab."},
			"command": {Type: cty.List(cty.String), Doc: "command: the program and its arguments; {policy} is replaced by Delta or Initial, " +
				`e.g. ["ssh", "connect01", "powershell", "-NoProfile", "-Command", "Start-ADSyncSyncCycle -PolicyType {policy}"].`},
			"shell": {Type: cty.List(cty.String), Doc: "command: the program and arguments that run one PowerShell command on the Connect server, " +
				"the command Base64-encoded as the last argument, e.g. " +
				`["ssh", "connect01", "powershell", "-NoProfile", "-NonInteractive", "-EncodedCommand"]. With it rebind runs Connect's ` +
				"ADSync cmdlets itself: checks the scheduler and staging mode, starts the cycle, waits for it to end and reads each run " +
				"profile's result (a deletion-threshold stop included)."},
			"status_command": {Type: cty.List(cty.String), Doc: "command: a program that prints True while a cycle runs and False when none does, " +
				`e.g. ["ssh", "connect01", "powershell", "-NoProfile", "-Command", "(Get-ADSyncScheduler).SyncCycleInProgress"].`},
			"poll_seconds":         {Type: cty.Number, Doc: "How often to ask whether the cycle has ended (default 10)."},
			"service_principal_id": {Type: cty.String, Doc: "cloudsync: the object id of the Cloud Sync service principal."},
			"job_id":               {Type: cty.String, Doc: "cloudsync: the synchronization job id, e.g. AD2AADProvisioning.xxxx."},
			"graph_url":            {Type: cty.String, Doc: "cloudsync: the Graph endpoint (default https://graph.microsoft.com)."},
			"tenant_id":            {Type: cty.String, Doc: "cloudsync: the directory to sign in to (default: $AZURE_TENANT_ID)."},
		},
	}
}

func (targetType) Open(ctx context.Context, cfg steps.TargetConfig) (any, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	driver, _ := steps.String(cfg.Config, "driver")
	poll := 10 * time.Second
	if v, ok := steps.Attr(cfg.Config, "poll_seconds"); ok {
		f, _ := v.AsBigFloat().Float64()
		if f <= 0 {
			return nil, fmt.Errorf("adsync: target %s: poll_seconds must be positive", cfg.Name)
		}
		poll = time.Duration(f * float64(time.Second))
	}
	if cfg.Lab != "" {
		lab := strings.TrimSuffix(cfg.Lab, "/")
		// The lab is reached over TLS verified against its CA, with its
		// token endpoint's tokens.
		cred, hc, _, err := credential.Lab(ctx, lab, getenv)
		if err != nil {
			return nil, fmt.Errorf("adsync: target %s: %w", cfg.Name, err)
		}
		if driver == "cloudsync" {
			// The lab serves the Cloud Sync job calls: the runbook's own
			// driver runs against it, with a Graph token from the lab.
			sp, job, err := cloudJobIDs(cfg)
			if err != nil {
				return nil, err
			}
			return &CloudSyncDriver{Graph: lab + "/v1.0", SP: sp, Job: job, Poll: 50 * time.Millisecond,
				Tokens: credential.NewSource(cred, "https://graph.microsoft.com/.default"), HTTP: hc}, nil
		}
		// A command cannot reach the lab's Connect server: the lab runs
		// the cycle itself.
		l, err := control.Dial(lab, getenv)
		if err != nil {
			return nil, fmt.Errorf("adsync: target %s: %w", cfg.Name, err)
		}
		return &LabDriver{Lab: l}, nil
	}
	switch driver {
	case "lab":
		return nil, fmt.Errorf("adsync: target %s: driver lab needs a lab tenant (--lab or REBIND_LAB)", cfg.Name)
	case "command":
		cmd, _ := steps.Strings(cfg.Config, "command")
		shell, _ := steps.Strings(cfg.Config, "shell")
		if len(shell) > 0 && shell[0] != "" {
			if len(cmd) > 0 {
				return nil, fmt.Errorf("adsync: target %s: give shell (rebind runs Connect's cmdlets) or command, not both", cfg.Name)
			}
			return &CommandDriver{Shell: shell, Poll: poll}, nil
		}
		if len(cmd) == 0 || cmd[0] == "" {
			return nil, fmt.Errorf("adsync: target %s: driver command needs shell, e.g. [\"ssh\", \"connect01\", \"powershell\", \"-NoProfile\", \"-NonInteractive\", \"-EncodedCommand\"], or command", cfg.Name)
		}
		status, _ := steps.Strings(cfg.Config, "status_command")
		return &CommandDriver{Command: cmd, Status: status, Poll: poll}, nil
	case "cloudsync":
		sp, job, err := cloudJobIDs(cfg)
		if err != nil {
			return nil, err
		}
		graph, ok := steps.String(cfg.Config, "graph_url")
		if !ok {
			graph = "https://graph.microsoft.com"
		}
		tenant, ok := steps.String(cfg.Config, "tenant_id")
		if !ok {
			tenant = getenv("AZURE_TENANT_ID")
		}
		d, err := newCloudSync(graph, tenant, sp, job, poll)
		if err != nil {
			return nil, err // not a nil *CloudSyncDriver in a non-nil interface
		}
		return d, nil
	}
	return nil, fmt.Errorf("adsync: target %s: driver %q is not one of command, cloudsync, lab", cfg.Name, driver)
}

// cloudJobIDs reads the cloudsync driver's service principal and job.
func cloudJobIDs(cfg steps.TargetConfig) (sp, job string, err error) {
	sp, _ = steps.String(cfg.Config, "service_principal_id")
	job, _ = steps.String(cfg.Config, "job_id")
	if sp == "" || job == "" {
		return "", "", fmt.Errorf("adsync: target %s: driver cloudsync needs service_principal_id and job_id", cfg.Name)
	}
	return sp, job, nil
}

// driver returns the call's target as a Driver.
func driver(call steps.Call) (Driver, error) {
	d, ok := call.Target.(Driver)
	if !ok || d == nil {
		return nil, fmt.Errorf("adsync: %s: the target is not an adsync target (got %T)", call.Address, call.Target)
	}
	return d, nil
}
