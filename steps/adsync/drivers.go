package adsync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/credential"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// CommandDriver runs a program (without a shell) that starts a cycle on the
// Entra Connect server, and another that tells whether one is running.
type CommandDriver struct {
	// Command starts a cycle; {policy} in any argument is replaced.
	Command []string
	// Status prints True while a cycle runs; nil when none is configured.
	Status []string
	// Shell runs one PowerShell command on the Connect server, given
	// -EncodedCommand style as its last argument. With Shell and no
	// Command, the driver runs Connect's ADSync cmdlets itself (see
	// runDefault).
	Shell []string
	Poll  time.Duration
}

// Name returns "command".
func (*CommandDriver) Name() string { return "command" }

// runCommand runs argv and returns its standard output. The error carries
// the end of standard error, which is where PowerShell reports.
func runCommand(ctx context.Context, argv []string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = "..." + msg[len(msg)-500:]
		}
		return stdout.String(), fmt.Errorf("%s: %w: %s", argv[0], err, msg)
	}
	return stdout.String(), nil
}

// Run starts the cycle and, with a status command, polls until no cycle
// runs. A Connect server that is busy with another cycle is told apart so
// that the engine retries later.
func (d *CommandDriver) Run(ctx context.Context, policy string, wait bool, log io.Writer) (Cycle, error) {
	if len(d.Command) == 0 && len(d.Shell) > 0 {
		return d.runDefault(ctx, policy, wait, log)
	}
	argv := make([]string, len(d.Command))
	for i, a := range d.Command {
		argv[i] = strings.ReplaceAll(a, "{policy}", policy)
	}
	c := Cycle{Policy: policy, Started: time.Now().UTC(), Status: "started"}
	fmt.Fprintf(log, "adsync: starting a %s cycle with %s\n", policy, argv[0])
	out, err := runCommand(ctx, argv)
	if err != nil {
		low := strings.ToLower(err.Error() + out)
		if strings.Contains(low, "busy") || strings.Contains(low, "already running") || strings.Contains(low, "in progress") {
			return c, &steps.RetryAfterError{Err: fmt.Errorf("adsync: the Connect server is running another cycle: %w", err), After: time.Minute}
		}
		return c, fmt.Errorf("adsync: start a %s cycle: %w", policy, err)
	}
	if strings.Contains(strings.ToLower(out), "busy") {
		return c, &steps.RetryAfterError{Err: fmt.Errorf("adsync: the Connect server is running another cycle"), After: time.Minute}
	}
	if !wait || len(d.Status) == 0 {
		return c, nil
	}
	err = waitCycle(ctx, d.Poll, policy,
		func(ctx context.Context) (string, error) { return runCommand(ctx, d.Status) },
		func(out string) error {
			return fmt.Errorf("adsync: status_command printed %q; it must print True or False", strings.TrimSpace(out))
		})
	if err != nil {
		return c, err
	}
	c.Status, c.Finished = "finished", time.Now().UTC()
	return c, nil
}

// waitCycle asks, every poll, whether the policy cycle still runs, until
// the answer's last line is False. The Connect shell driver asks
// (Get-ADSyncScheduler).SyncCycleInProgress, True while a cycle runs
// (https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler),
// and a status_command must answer the same way; an answer that is
// neither is a permanent error, worded by refuse.
func waitCycle(ctx context.Context, poll time.Duration, policy string, ask func(context.Context) (string, error), refuse func(out string) error) error {
	for {
		if err := httpx.Sleep(ctx, poll); err != nil {
			return fmt.Errorf("adsync: waiting for the %s cycle: %w", policy, err)
		}
		out, err := ask(ctx)
		if err != nil {
			return fmt.Errorf("adsync: ask whether the cycle runs: %w", err)
		}
		switch strings.ToLower(strings.TrimSpace(lastLine(out))) {
		case "false":
			return nil
		case "true":
			continue
		default:
			return steps.Permanent(refuse(out))
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// CloudSyncDriver starts an Entra Cloud Sync job through Graph over plain
// net/http (this package stays free of the Graph SDK).
type CloudSyncDriver struct {
	// Graph is the service root, e.g. https://graph.microsoft.com/v1.0.
	Graph string
	SP    string
	Job   string
	Poll  time.Duration
	// Tokens hands out Graph tokens.
	Tokens credential.TokenSource
	HTTP   *http.Client
}

func newCloudSync(graph string, sign credential.Target, sp, job string, poll time.Duration) (*CloudSyncDriver, error) {
	if err := httpx.RequireHTTPS("graph_url", graph); err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: sign.Transport, Timeout: time.Minute}
	cred, err := credential.New(sign.Options)
	if err != nil {
		return nil, err
	}
	// The token's scope is the service root's .default, as national
	// clouds require (https://learn.microsoft.com/graph/sdks/national-clouds).
	root := strings.TrimSuffix(graph, "/")
	return &CloudSyncDriver{Graph: root + "/v1.0", SP: sp, Job: job, Poll: poll,
		Tokens: credential.NewSource(cred, credential.DefaultScope(root)), HTTP: hc}, nil
}

// Name returns "cloudsync".
func (*CloudSyncDriver) Name() string { return "cloudsync" }

func (d *CloudSyncDriver) jobURL() string {
	return d.Graph + "/servicePrincipals/" + url.PathEscape(d.SP) + "/synchronization/jobs/" + url.PathEscape(d.Job)
}

// call sends one Graph request and decodes a JSON answer into out.
func (d *CloudSyncDriver) call(ctx context.Context, method, u string, body any, out any) error {
	var rd io.Reader
	var header map[string]string
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
		header = map[string]string{"Content-Type": "application/json"}
	}
	resp, b, err := httpx.Send(ctx, d.HTTP, d.Tokens, method, u, rd, header, 4<<20)
	if resp == nil {
		return err
	}
	// An answer whose body was cut short is judged on what arrived of it.
	if resp.StatusCode >= 300 {
		err := fmt.Errorf("Graph answered %s to %s %s: %s", resp.Status, method, strings.TrimPrefix(u, d.Graph), bytes.TrimSpace(b))
		switch {
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			after := httpx.ParseRetryAfter(resp.Header.Get("Retry-After"))
			if after == 0 {
				after = 30 * time.Second
			}
			return &steps.RetryAfterError{Err: err, After: after}
		case resp.StatusCode >= 400:
			return steps.Permanent(err)
		}
		return err
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

// cloudJob is the part of a synchronizationJob rebind reads.
type cloudJob struct {
	Status struct {
		Code          string          `json:"code"`
		LastExecution *cloudExecution `json:"lastExecution"`
		Quarantine    *struct {
			Reason string `json:"reason"`
			Error  *struct {
				Code string `json:"code"`
			} `json:"error"`
		} `json:"quarantine"`
	} `json:"status"`
}

// cloudExecution is a synchronizationTaskExecution.
type cloudExecution struct {
	ActivityIdentifier string     `json:"activityIdentifier"`
	State              string     `json:"state"`
	TimeBegan          *time.Time `json:"timeBegan"`
	TimeEnded          *time.Time `json:"timeEnded"`
	Error              *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// after reports whether ex is a later execution than prev (nil: none).
// Executions are told apart by their activityIdentifier, or by when they
// began when the service gives no identifier; the local clock is never
// compared with the service's.
func (ex *cloudExecution) after(prev *cloudExecution) bool {
	switch {
	case ex == nil || ex.TimeBegan == nil:
		return false
	case prev == nil || prev.TimeBegan == nil:
		return true
	case ex.ActivityIdentifier != "" || prev.ActivityIdentifier != "":
		return ex.ActivityIdentifier != prev.ActivityIdentifier
	}
	return ex.TimeBegan.After(*prev.TimeBegan)
}

// Run runs a cycle of the job, refusing a job in quarantine (see run).
func (d *CloudSyncDriver) Run(ctx context.Context, policy string, wait bool, log io.Writer) (Cycle, error) {
	return d.run(ctx, policy, wait, log, false)
}

// jobCode reads a job's status code (synchronizationStatus.code: NotRun,
// Active, Paused, Quarantine, ...). The quarantine block may be there with
// another code (the Get synchronizationJob page's example is Paused with a
// quarantine series); the code says what start is for.
func jobCode(job cloudJob) string { return job.Status.Code }

// inQuarantine reports whether the job reads as quarantined: its code, or a
// quarantine block with a reason or an error.
func inQuarantine(job cloudJob) bool {
	q := job.Status.Quarantine
	return strings.EqualFold(job.Status.Code, "Quarantine") || q != nil && (q.Reason != "" || q.Error != nil && q.Error.Code != "")
}

// run reads the job (which also checks that it exists) and has it run an
// iteration as the synchronization API reference documents
// (https://learn.microsoft.com/graph/api/synchronization-synchronizationjob-start,
// .../synchronization-synchronizationjob-restart and
// .../resources/synchronization-synchronizationjobrestartcriteria):
//
//   - Initial: restart with resetScope Watermark, which "causes the service
//     to re-evaluate all the users again" (never Full, which includes
//     ConnectorDataStore, "DO NOT USE", and ForceDeletes, which would push
//     deletions past the accidental-deletion threshold);
//   - Delta on a paused job: start, which "continues processing changes
//     from the point where it was paused";
//   - Delta on a running job: nothing is sent ("use the start job only when
//     the job is currently paused or in quarantine"); the job's next
//     scheduled iteration is the Delta, and wait waits for it.
//
// A job in quarantine is refused unless startQuarantined is set, because
// start (and a restart with QuarantineState) clears the quarantine,
// TooManyDeletes included, and the pending deletions with it go ahead at the
// next iteration once the threshold allows. With startQuarantined, Delta
// starts it and Initial restarts it with Watermark and QuarantineState.
// When asked, run polls the job until an execution later than the one it
// read first has ended.
func (d *CloudSyncDriver) run(ctx context.Context, policy string, wait bool, log io.Writer, startQuarantined bool) (Cycle, error) {
	c := Cycle{Policy: policy, Started: time.Now().UTC(), Status: "started"}
	var before cloudJob
	if err := d.call(ctx, http.MethodGet, d.jobURL(), nil, &before); err != nil {
		return c, fmt.Errorf("adsync: read cloud sync job %s: %w", d.Job, err)
	}
	code := jobCode(before)
	quarantined := strings.EqualFold(code, "Quarantine")
	if quarantined && !startQuarantined {
		return c, steps.Permanent(fmt.Errorf("adsync: cloud sync job %s is in quarantine (%s); rebind does not start it, since "+
			"starting it clears the quarantine (TooManyDeletes included) and lets what caused it go ahead. Find the cause "+
			"(for TooManyDeletes, the StagedDelete entries of the provisioning logs), fix it, then set start_quarantined = true "+
			"on the step or restart the job yourself", d.Job, quarantineReason(before)))
	}
	var err error
	switch {
	case policy == "Initial":
		scope := "Watermark"
		if quarantined {
			scope += ", QuarantineState"
		}
		err = d.call(ctx, http.MethodPost, d.jobURL()+"/restart", map[string]any{"criteria": map[string]string{"resetScope": scope}}, nil)
		fmt.Fprintf(log, "adsync: cloud sync job %s restarted with resetScope %s (Initial)\n", d.Job, scope)
	case quarantined || strings.EqualFold(code, "Paused"):
		err = d.call(ctx, http.MethodPost, d.jobURL()+"/start", nil, nil)
		fmt.Fprintf(log, "adsync: cloud sync job %s started from %s (Delta)\n", d.Job, code)
	default:
		fmt.Fprintf(log, "adsync: cloud sync job %s runs on its schedule; its next iteration is the Delta\n", d.Job)
		c.Status = "scheduled"
	}
	if err != nil {
		return c, fmt.Errorf("adsync: run cloud sync job %s: %w", d.Job, err)
	}
	if !wait {
		return c, nil
	}
	for first := true; ; first = false {
		if !first {
			if err := httpx.Sleep(ctx, d.Poll); err != nil {
				return c, fmt.Errorf("adsync: waiting for cloud sync job %s: %w", d.Job, err)
			}
		}
		var job cloudJob
		if err := d.call(ctx, http.MethodGet, d.jobURL(), nil, &job); err != nil {
			var ra *steps.RetryAfterError
			if errors.As(err, &ra) {
				continue
			}
			return c, fmt.Errorf("adsync: read cloud sync job %s: %w", d.Job, err)
		}
		ex := job.Status.LastExecution
		if !ex.after(before.Status.LastExecution) || ex.TimeEnded == nil {
			if inQuarantine(job) && !quarantined {
				return c, steps.Permanent(fmt.Errorf("adsync: cloud sync job %s is in quarantine (%s)", d.Job, quarantineReason(job)))
			}
			if strings.EqualFold(jobCode(job), "Paused") {
				return c, steps.Permanent(fmt.Errorf("adsync: cloud sync job %s was paused while rebind waited for its iteration", d.Job))
			}
			continue
		}
		c.Status, c.Finished = strings.ToLower(ex.State), *ex.TimeEnded
		if ex.Error != nil && ex.Error.Code != "" {
			c.Errors = append(c.Errors, CycleError{Code: ex.Error.Code, Detail: ex.Error.Message})
		}
		if inQuarantine(job) {
			return c, steps.Permanent(fmt.Errorf("adsync: cloud sync job %s ran and went into quarantine (%s)", d.Job, quarantineReason(job)))
		}
		return c, nil
	}
}

func quarantineReason(job cloudJob) string {
	q := job.Status.Quarantine
	switch {
	case q != nil && q.Reason != "":
		return q.Reason
	case q != nil && q.Error != nil && q.Error.Code != "":
		return q.Error.Code
	}
	return "no reason given"
}
