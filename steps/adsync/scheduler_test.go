package adsync

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// holdCall is adsync_scheduler with enabled = false against target.
func holdCall(t *testing.T, target any) (steps.Type, steps.Call) {
	t.Helper()
	typ := steptest.Step(t, "adsync_scheduler")
	return typ, steps.Call{Address: "step.adsync_scheduler.t", Config: steptest.Config(typ.Info().Schema, map[string]any{"enabled": false}),
		Target: target, Log: io.Discard}
}

// holdScheduler plans adsync_scheduler with enabled = false against
// target, a scheduler that runs (so the plan is an update), and applies
// it; rollback's Revert takes the change it returns.
func holdScheduler(t *testing.T, target any) (steps.Type, steps.Call, steps.Change) {
	t.Helper()
	typ, call := holdCall(t, target)
	obs, err := typ.Observe(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := typ.Diff(context.Background(), call, obs)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Action != steps.Update {
		t.Fatalf("plan: %s", ch.Action)
	}
	if _, err := typ.Apply(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	return typ, call, ch
}

// TestSchedulerStepCommand runs the scheduler cmdlets the way the target
// runs Start-ADSyncSyncCycle: its argument holding {policy} is replaced.
func TestSchedulerStepCommand(t *testing.T) {
	dir := t.TempDir()
	state, log := filepath.Join(dir, "state"), filepath.Join(dir, "log")
	// A stand-in for powershell on the Connect server: it records the
	// cmdlet text and keeps SyncCycleEnabled in a file.
	ps := script(t, dir, "ps", `echo "$1" >> "`+log+`"
case "$1" in
  "(Get-ADSyncScheduler).SyncCycleEnabled") cat "`+state+`" 2>/dev/null || echo True ;;
  "Set-ADSyncScheduler -SyncCycleEnabled \$false") echo False > "`+state+`" ;;
  "Set-ADSyncScheduler -SyncCycleEnabled \$true") echo True > "`+state+`" ;;
  *) echo "unexpected: $1" >&2; exit 1 ;;
esac`)
	target := open(t, "", map[string]any{"driver": "command", "command": []string{ps, "Start-ADSyncSyncCycle -PolicyType {policy}"}})
	typ, call, ch := holdScheduler(t, target)
	if b, _ := os.ReadFile(state); strings.TrimSpace(string(b)) != "False" {
		t.Fatalf("SyncCycleEnabled = %q after holding", b)
	}
	if err := typ.(steps.Reverter).Revert(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	want := "(Get-ADSyncScheduler).SyncCycleEnabled\nSet-ADSyncScheduler -SyncCycleEnabled $false\nSet-ADSyncScheduler -SyncCycleEnabled $true\n"
	if string(b) != want {
		t.Fatalf("cmdlets run:\n%s\nwant:\n%s", b, want)
	}
	// A command with no {policy} argument gives rebind nothing to replace.
	target = open(t, "", map[string]any{"driver": "command", "command": []string{ps, "Start-ADSyncSyncCycle -PolicyType Delta"}})
	typ, call = holdCall(t, target)
	if _, err := typ.Observe(context.Background(), call); !steps.IsPermanent(err) || !strings.Contains(err.Error(), "{policy}") {
		t.Fatalf("command without {policy}: %v", err)
	}
}

// TestSchedulerStepShell holds and releases the lab Connect server's
// scheduler through the target's shell, with the cmdlets Connect's
// scheduler page names (Get-ADSyncScheduler, Set-ADSyncScheduler
// -SyncCycleEnabled): the same shell the driver starts cycles with, so a
// target with only a shell can hold the scheduler too.
func TestSchedulerStepShell(t *testing.T) {
	tn, err := lab.LoadScenario(lab.ScenarioFiles, "restore-mistake")
	if err != nil {
		t.Fatal(err)
	}
	if !tn.Scheduler().SyncCycleEnabled {
		t.Fatal("the scenario's scheduler is held before the test")
	}
	target := open(t, "", map[string]any{"driver": "command", "shell": labShell(t, tn)})
	typ, call, ch := holdScheduler(t, target)
	if tn.Scheduler().SyncCycleEnabled {
		t.Fatal("the shell did not hold the lab's scheduler")
	}
	if err := typ.(steps.Reverter).Revert(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if !tn.Scheduler().SyncCycleEnabled {
		t.Fatal("rollback did not let the scheduler run again")
	}
}
