package adsync

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/powershell"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// labShell serves tn for the test and returns a target's shell that
// reaches its Connect server: a program that sends its last argument (a
// PowerShell command, -EncodedCommand style) to the lab and prints what it
// answers, as ssh would run powershell on the real one, and the
// -EncodedCommand flag the driver appends the command after.
func labShell(t *testing.T, tn *lab.Tenant) []string {
	srv := httptest.NewServer(labhttp.NewServer(tn, labhttp.ServerOptions{}))
	t.Cleanup(srv.Close)
	prog := script(t, t.TempDir(), "connect-shell", `for a; do last=$a; done
curl -sS -f --data-binary "$last" "`+srv.URL+`/lab/connect/powershell"
`)
	return []string{prog, "-EncodedCommand"}
}

// TestConnectDefaultCommandsAgainstLab: with only a shell, the command
// driver reads the scheduler, starts the cycle, waits for it and reads each
// run profile's result with Connect's cmdlets, which the lab's Connect
// server answers: an Initial cycle with export errors reports them, and a
// cycle stopped by the deletion threshold fails the step.
func TestConnectDefaultCommandsAgainstLab(t *testing.T) {
	tn, err := lab.LoadScenario(lab.ScenarioFiles, "rebuilt-ad")
	if err != nil {
		t.Fatal(err)
	}
	target := open(t, "", map[string]any{"driver": "command", "shell": labShell(t, tn), "poll_seconds": 0.01})
	res, err := runCycle(t, target, map[string]any{"policy": "Initial"})
	if err != nil {
		t.Fatal(err)
	}
	last, _ := tn.LastSync()
	v := res.Value
	if last.Policy != lab.Initial || v.GetAttr("status").AsString() != "completed-export-errors" || v.GetAttr("errors").LengthInt() != 1 ||
		v.GetAttr("finished").IsNull() {
		t.Fatalf("lab ran %s; result %#v", last.Policy, v)
	}
	if e := v.GetAttr("errors").Index(cty.NumberIntVal(0)); !strings.Contains(e.GetAttr("detail").AsString(), "Export") {
		t.Fatalf("error = %#v", e)
	}

	tn2, err := lab.Load(bytes.NewReader(overThreshold(t)))
	if err != nil {
		t.Fatal(err)
	}
	deleteADUsers(t, tn2, 2)
	target2 := open(t, "", map[string]any{"driver": "command", "shell": labShell(t, tn2), "poll_seconds": 0.01})
	if _, err := runCycle(t, target2, nil); !steps.IsPermanent(err) || !strings.Contains(err.Error(), "deletion threshold") {
		t.Fatalf("cycle over the deletion threshold: %v", err)
	}
	if last, _ := tn2.LastSync(); last.Status != lab.StatusDeletionThresholdExceeded {
		t.Fatalf("lab's last cycle = %+v", last)
	}
}

// TestConnectDefaultCommandsRefuseStagingMode: a server in staging mode
// exports nothing; the driver stops before starting a cycle.
func TestConnectDefaultCommandsRefuseStagingMode(t *testing.T) {
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	shell := script(t, dir, "staging", `for a; do last=$a; done
case "$last" in
  `+powershell.EncodeCommand(ScriptScheduler)+`) echo '{"SyncCycleEnabled":true,"StagingModeEnabled":true,"SchedulerSuspended":false,"SyncCycleInProgress":false}';;
  *) touch "`+started+`"; echo '[]';;
esac
`)
	target := open(t, "", map[string]any{"driver": "command", "shell": []string{shell, "-EncodedCommand"}, "poll_seconds": 0.01})
	if _, err := runCycle(t, target, nil); !steps.IsPermanent(err) || !strings.Contains(err.Error(), "staging mode") {
		t.Fatalf("cycle on a staging server: %v", err)
	}
	if _, err := os.Stat(started); err == nil {
		t.Fatal("the driver ran more than Get-ADSyncScheduler on a staging server")
	}
	// shell and command together are refused.
	tt, _ := steps.LookupTarget("adsync")
	cfg := steps.TargetConfig{Name: "x", Config: steptest.Config(tt.Info().Schema, map[string]any{"driver": "command", "shell": []string{"ssh"}, "command": []string{"ssh"}})}
	if _, err := tt.Open(t.Context(), cfg); err == nil {
		t.Fatal("shell with command was accepted")
	}
}

// TestDoctorShellTarget: doctor reads the scheduler through the shell and
// reports staging mode; it never starts a cycle.
func TestDoctorShellTarget(t *testing.T) {
	tn, err := lab.LoadScenario(lab.ScenarioFiles, "healthy")
	if err != nil {
		t.Fatal(err)
	}
	tt, _ := steps.LookupTarget("adsync")
	cfg := steps.TargetConfig{Name: "connect", Config: steptest.Config(tt.Info().Schema, map[string]any{"driver": "command",
		"shell": labShell(t, tn)})}
	before, _ := tn.LastSync()
	checks := tt.(steps.Doctor).Doctor(t.Context(), steps.DoctorRequest{Config: cfg})
	var ok bool
	for _, c := range checks {
		if c.Name == "scheduler" && c.State == steps.CheckOK {
			ok = true
		}
	}
	if !ok {
		t.Fatalf("checks = %+v", checks)
	}
	if after, _ := tn.LastSync(); after.ID != before.ID {
		t.Fatal("doctor ran a cycle")
	}
}
