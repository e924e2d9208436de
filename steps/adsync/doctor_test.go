package adsync

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/steps"
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
		Config: steps.TargetConfig{Name: "connect", Config: objectFor(tt.Info().Schema, cfg)}, Needs: needs})
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
