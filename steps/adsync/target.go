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
//
// Other drivers can be registered by name (RegisterDriver): the rehearsal
// lab registers "lab", whose sync engine it runs itself.
package adsync

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

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
			"ssh to the Entra Connect server), \"cloudsync\" (an Entra Cloud Sync job through Graph), or a registered driver " +
			"(\"lab\": the rehearsal lab's sync engine).",
		Schema: steps.Schema{
			"driver": {Type: cty.String, Required: true, Doc: "command, cloudsync, or a registered driver (lab)."},
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
			"authority_host":       {Type: cty.String, Doc: "cloudsync: the Microsoft Entra authority to sign in at (default: $AZURE_AUTHORITY_HOST or the public cloud's)."},
			"ca_file":              {Type: cty.String, Doc: "cloudsync and registered drivers: a PEM file of CA certificates to trust besides the system's (a TLS-inspecting proxy, a private CA)."},
			"url":                  {Type: cty.String, Doc: "A registered driver: the https:// address of the sync engine it drives."},
		},
	}
}

func (targetType) Open(ctx context.Context, cfg steps.TargetConfig) (any, error) {
	driver, _ := steps.String(cfg.Config, "driver")
	poll := 10 * time.Second
	if v, ok := steps.Attr(cfg.Config, "poll_seconds"); ok {
		f, _ := v.AsBigFloat().Float64()
		if f <= 0 {
			return nil, fmt.Errorf("adsync: target %s: poll_seconds must be positive", cfg.Name)
		}
		poll = time.Duration(f * float64(time.Second))
	}
	switch driver {
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
		sign, err := credential.ForTarget(cfg)
		if err != nil {
			return nil, fmt.Errorf("adsync: target %s: %w", cfg.Name, err)
		}
		d, err := newCloudSync(graphEndpoint(cfg), sign, sp, job, poll)
		if err != nil {
			return nil, fmt.Errorf("adsync: target %s: %w", cfg.Name, err) // not a nil *CloudSyncDriver in a non-nil interface
		}
		return d, nil
	}
	if open, ok := registered(driver); ok {
		d, err := open(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("adsync: target %s: driver %s: %w", cfg.Name, driver, err)
		}
		return d, nil
	}
	return nil, fmt.Errorf("adsync: target %s: driver %q is not one of %s", cfg.Name, driver, strings.Join(driverNames(), ", "))
}

// DriverOpener opens a registered driver from its target's settings.
type DriverOpener func(ctx context.Context, cfg steps.TargetConfig) (Driver, error)

var (
	driversMu sync.RWMutex
	drivers   = map[string]DriverOpener{}
)

// RegisterDriver makes a driver available as `driver = "NAME"`. It panics
// when the name is taken (command and cloudsync included) or open is nil:
// programmer mistakes found at start-up.
func RegisterDriver(name string, open DriverOpener) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if open == nil || name == "" || name == "command" || name == "cloudsync" || drivers[name] != nil {
		panic("adsync: RegisterDriver of " + strconv.Quote(name) + " twice, or without an opener")
	}
	drivers[name] = open
}

func registered(name string) (DriverOpener, bool) {
	driversMu.RLock()
	defer driversMu.RUnlock()
	open, ok := drivers[name]
	return open, ok
}

// driverNames lists the drivers a target may name.
func driverNames() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	names := []string{"command", "cloudsync"}
	for n := range drivers {
		names = append(names, n)
	}
	sort.Strings(names[2:])
	return names
}

// graphEndpoint is the cloudsync driver's Graph endpoint: graph_url, Graph's
// global endpoint when unset.
func graphEndpoint(cfg steps.TargetConfig) string {
	if u, ok := steps.String(cfg.Config, "graph_url"); ok {
		return u
	}
	return "https://graph.microsoft.com"
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
func driver(call steps.Call) (Driver, error) { return steps.TargetOf[Driver](call, "adsync") }
