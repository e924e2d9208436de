package adsync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/powershell"
	"github.com/rebind-dev/rebind/steps/steptest"
)

func doctor(t *testing.T, cfg map[string]any) map[string]steps.Check {
	t.Helper()
	tt, _ := steps.LookupTarget("adsync")
	info, _ := steps.Lookup("adsync_cycle")
	var needs []steps.Permission
	for _, p := range info.Info().Permissions {
		needs = append(needs, steps.ParsePermission(p))
	}
	checks := tt.(steps.Doctor).Doctor(context.Background(), steps.DoctorRequest{
		Config: steps.TargetConfig{Name: "connect", Config: steptest.Config(tt.Info().Schema, cfg)}, Needs: needs})
	m := map[string]steps.Check{}
	for _, c := range checks {
		if _, dup := m[c.Name]; dup {
			t.Errorf("check %q twice", c.Name)
		}
		m[c.Name] = c
	}
	return m
}

// TestDoctorCommandTarget runs the status command of a command target, a
// local script standing for `ssh connect01 powershell
// (Get-ADSyncScheduler).SyncCycleInProgress`, and never the cycle command.
func TestDoctorCommandTarget(t *testing.T) {
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	start := script(t, dir, "start", `touch "`+started+`"`)
	idle := script(t, dir, "idle", `echo False`)
	odd := script(t, dir, "odd", `echo "The term 'Get-ADSyncScheduler' is not recognized"`)
	denied := script(t, dir, "denied", `echo "Permission denied (publickey)." >&2; exit 255`)

	m := doctor(t, map[string]any{"driver": "command", "command": []string{start}, "status_command": []string{idle}})
	if m["command"].State != steps.CheckOK || m["status"].State != steps.CheckOK || !strings.Contains(m["status"].Detail, "no cycle is running") {
		t.Errorf("idle server: %+v", m)
	}
	connect := "Connect a member of ADSyncOperators and ADSyncBrowse, or of ADSyncAdmins"
	if c := m[connect]; c.State != steps.CheckUnknown || c.Fix == "" {
		t.Errorf("group membership: %+v", c)
	}
	if _, ok := m["Graph Synchronization.ReadWrite.All"]; ok {
		t.Error("a cloudsync permission was checked for driver command")
	}
	if _, err := os.Stat(started); err == nil {
		t.Fatal("doctor started a sync cycle")
	}

	m = doctor(t, map[string]any{"driver": "command", "command": []string{start}, "status_command": []string{odd}})
	if c := m["status"]; c.State != steps.CheckFailed || !strings.Contains(c.Detail, "must print True or False") {
		t.Errorf("odd answer: %+v", c)
	}
	m = doctor(t, map[string]any{"driver": "command", "command": []string{start}, "status_command": []string{denied}})
	if c := m["status"]; c.State != steps.CheckFailed || !strings.Contains(c.Detail, "Permission denied") {
		t.Errorf("refused: %+v", c)
	}
	m = doctor(t, map[string]any{"driver": "command", "command": []string{start}})
	if c := m["status"]; c.State != steps.CheckUnknown || !strings.Contains(c.Fix, "Get-ADSyncScheduler") {
		t.Errorf("no status command: %+v", c)
	}
	m = doctor(t, map[string]any{"driver": "command", "command": []string{filepath.Join(dir, "missing")}})
	if c := m["command"]; c.State != steps.CheckFailed {
		t.Errorf("missing program: %+v", c)
	}
}

// TestDoctorShellTargetFailures: with the sample environment's shell
// (Connect's cmdlets over OpenSSH), doctor reads Get-ADSyncScheduler and
// reports a server in staging mode, whose exports are suppressed
// (https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-staging-server),
// a shell that cannot reach the server, and a program that is not there,
// each ✗ with a fix; the Connect group a cycle needs is ? (not observable
// without starting one). It never starts a cycle.
func TestDoctorShellTargetFailures(t *testing.T) {
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	scheduler := func(staging bool) string {
		return fmt.Sprintf(`for a; do last=$a; done
case "$last" in
  %s) echo '{"SyncCycleEnabled":true,"StagingModeEnabled":%v,"SchedulerSuspended":false,"SyncCycleInProgress":false}';;
  *) touch "%s"; echo '[]';;
esac
`, powershell.EncodeCommand(ScriptScheduler), staging, started)
	}
	active := script(t, dir, "active", scheduler(false))
	staging := script(t, dir, "staging", scheduler(true))
	denied := script(t, dir, "denied", `echo "Permission denied (publickey)." >&2; exit 255`)

	m := doctor(t, map[string]any{"driver": "command", "shell": []string{active, "-EncodedCommand"}})
	if c := m["scheduler"]; c.State != steps.CheckOK || !strings.Contains(c.Detail, "not in staging mode") {
		t.Errorf("active server: %+v", c)
	}
	connect := "Connect a member of ADSyncOperators and ADSyncBrowse, or of ADSyncAdmins"
	if c := m[connect]; c.State != steps.CheckUnknown || !strings.Contains(c.Fix, "ADSyncOperators") {
		t.Errorf("group membership through the shell: %+v (all: %v)", c, m)
	}
	m = doctor(t, map[string]any{"driver": "command", "shell": []string{staging, "-EncodedCommand"}})
	if c := m["scheduler"]; c.State != steps.CheckFailed || !strings.Contains(c.Detail, "staging mode") || !strings.Contains(c.Fix, "active Connect server") {
		t.Errorf("staging server: %+v", c)
	}
	m = doctor(t, map[string]any{"driver": "command", "shell": []string{denied, "-EncodedCommand"}})
	if c := m["scheduler"]; c.State != steps.CheckFailed || !strings.Contains(c.Detail, "Permission denied") || !strings.Contains(c.Fix, "SSH keys") {
		t.Errorf("refused shell: %+v", c)
	}
	m = doctor(t, map[string]any{"driver": "command", "shell": []string{filepath.Join(dir, "no-ssh"), "-EncodedCommand"}})
	if c := m["shell"]; c.State != steps.CheckFailed || c.Fix == "" {
		t.Errorf("missing program: %+v", c)
	}
	if _, err := os.Stat(started); err == nil {
		t.Fatal("doctor started a sync cycle")
	}
}
