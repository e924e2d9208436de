package labsync_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/instance/instancetest"
	_ "github.com/rebind-dev/rebind/lab/labsync"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// bound opens an adsync target bound to a lab of scenario as `rebind
// --lab` binds it: driver "lab", with the lab's URL and CA.
func bound(t *testing.T, scenario string) (*instance.Instance, steps.TargetType, steps.TargetConfig, any) {
	t.Helper()
	in := instancetest.Start(t, instance.Options{Scenario: scenario, Scenarios: lab.ScenarioFiles})
	b, err := control.Bind(context.Background(), in.URL, t.TempDir(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := b.TargetConfig("adsync", "connect", nil)
	if err != nil {
		t.Fatal(err)
	}
	tt, _ := steps.LookupTarget("adsync")
	target, err := tt.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in, tt, cfg, target
}

// apply observes, diffs and applies step type name with config given.
func apply(t *testing.T, name string, target any, given map[string]any) (steps.Type, steps.Call, steps.Change, steps.Result, error) {
	t.Helper()
	typ := steptest.Step(t, name)
	call := steps.Call{Address: "step." + name + ".t", Config: steptest.Config(typ.Info().Schema, given), Target: target, Log: io.Discard}
	obs, err := typ.Observe(context.Background(), call)
	if err != nil {
		return typ, call, steps.Change{}, steps.Result{}, err
	}
	ch, err := typ.Diff(context.Background(), call, obs)
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	if ch.Action == steps.NoOp {
		return typ, call, ch, steps.Result{}, nil
	}
	res, err := typ.Apply(context.Background(), call, ch)
	return typ, call, ch, res, err
}

// TestLabCycle runs cycles of a lab tenant through the driver: an Initial
// with seed 001's export errors, and a refusal while sync is off.
func TestLabCycle(t *testing.T) {
	in, _, _, target := bound(t, "rebuilt-ad")
	_, _, _, res, err := apply(t, "adsync_cycle", target, map[string]any{"policy": "initial"})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Value
	if v.GetAttr("policy").AsString() != "Initial" || v.GetAttr("status").AsString() != "completed-export-errors" ||
		v.GetAttr("errors").LengthInt() == 0 || v.GetAttr("started").AsString() != "2026-08-03T09:00:00Z" {
		t.Fatalf("result = %#v", v)
	}
	if code := v.GetAttr("errors").Index(cty.NumberIntVal(0)).GetAttr("code").AsString(); code != "AttributeValueMustBeUnique" {
		t.Fatalf("error code = %s", code)
	}
	if err := in.Tenant.SetDirSyncEnabled(false); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := apply(t, "adsync_cycle", target, nil); !steps.IsPermanent(err) || !strings.Contains(err.Error(), "off") {
		t.Fatalf("cycle with sync off: %v", err)
	}
}

// TestSchedulerStepLab holds a lab's Connect scheduler (Set-ADSyncScheduler
// -SyncCycleEnabled $false), finds it held on a second look, and puts it
// back on rollback.
func TestSchedulerStepLab(t *testing.T) {
	in, _, _, target := bound(t, "healthy")
	typ, call, ch, _, err := apply(t, "adsync_scheduler", target, map[string]any{"enabled": false})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Action != steps.Update {
		t.Fatalf("the scenario's scheduler should run: %s", ch.Action)
	}
	if in.Tenant.Scheduler().SyncCycleEnabled {
		t.Fatal("the scheduler still runs")
	}
	if _, _, again, _, _ := apply(t, "adsync_scheduler", target, map[string]any{"enabled": false}); again.Action != steps.NoOp {
		t.Fatalf("held twice: %s", again.Action)
	}
	if err := typ.(steps.Reverter).Revert(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if !in.Tenant.Scheduler().SyncCycleEnabled {
		t.Fatal("rollback did not let the scheduler run again")
	}
}

// TestDoctorOfTheLabDriver: doctor opens a registered driver and reads its
// scheduler; a lab that is gone fails the check.
func TestDoctorOfTheLabDriver(t *testing.T) {
	in, tt, cfg, _ := bound(t, "healthy")
	checks := tt.(steps.Doctor).Doctor(context.Background(), steps.DoctorRequest{Config: cfg})
	if len(checks) != 1 || checks[0].State != steps.CheckOK || !strings.Contains(checks[0].Detail, "scheduler enabled true") {
		t.Fatalf("doctor of a running lab: %+v", checks)
	}
	in.Close()
	checks = tt.(steps.Doctor).Doctor(context.Background(), steps.DoctorRequest{Config: cfg})
	if len(checks) != 1 || checks[0].State != steps.CheckFailed {
		t.Fatalf("doctor of a stopped lab: %+v", checks)
	}
}
