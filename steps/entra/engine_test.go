package entra_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/labhttp"
	_ "github.com/rebind-dev/rebind/lab/labsync"
	_ "github.com/rebind-dev/rebind/steps/adsync"
	"github.com/rebind-dev/rebind/steps/entra"
	_ "github.com/rebind-dev/rebind/steps/exo"
)

// restoreWithoutClear is the mistake seed 000 warns of, as a runbook of
// its own: restore the deleted cloud user, then run an Initial sync cycle
// without clearing its onPremisesImmutableId first, and wait for the user
// to be bound to the new AD account (NEW_ANCHOR). The bundled fix,
// runbooks/restore-mistake, clears the anchor between the two; it is run
// end to end against the lab in runbooks/e2e_test.go.
const restoreWithoutClear = `
runbook "restore-without-clear" {
  title = "Restore a cloud user and sync, leaving its old anchor in place"
}

variable "upn" {
  type = string
}

target "entra" "tenant" {}
target "adsync" "connect" {}

step "entra_user_restored" "restore" {
  target = target.entra.tenant
  upn    = var.upn
}

step "adsync_cycle" "initial" {
  target = target.adsync.connect
  policy = "Initial"
}

step "entra_user_state" "bound" {
  target       = target.entra.tenant
  upn          = var.upn
  await        = "3h"
  immutable_id = "NEW_ANCHOR"
  sync_enabled = true
  errors_since = step.adsync_cycle.initial.result.started
}
`

// labRun is one runbook planned and applied by an engine bound to a lab
// tenant as --lab binds it: every target reaches the lab over HTTPS.
type labRun struct {
	tn  *lab.Tenant
	rep *engine.Report
	log bytes.Buffer
}

// runOnLab serves scenario, plans src with vars and applies it. Plan
// errors fail the test; apply's outcome is returned.
func runOnLab(t *testing.T, scenario, src string, vars map[string]string) *labRun {
	t.Helper()
	tn, err := lab.LoadScenario(lab.ScenarioFiles, scenario)
	if err != nil {
		t.Fatal(err)
	}
	ls := labhttp.NewServer(tn, labhttp.ServerOptions{Anonymous: true})
	srv := entra.ServeTLS(t, ls, ls)
	dir := t.TempDir()
	b, err := control.Bind(context.Background(), srv.URL, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := journal.Open(filepath.Join(dir, ".rebind"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := &labRun{tn: tn}
	e := &engine.Engine{Store: store, Lab: srv.URL, Bind: b.EnvironmentFor, Getenv: b.Getenv, WorkDir: dir, Log: &r.log,
		PollInterval: 10 * time.Millisecond}
	rb, diags := runbook.LoadSources(dir, map[string][]byte{"main.hcl": []byte(src)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	in := engine.Inputs{Vars: vars}
	p, diags := e.Plan(context.Background(), rb, in, engine.PlanOptions{Author: "tester"})
	if diags.HasErrors() {
		t.Fatalf("plan: %s\n%s", diags.Error(), r.log.String())
	}
	r.rep, diags = e.Apply(context.Background(), p, in, engine.ApplyOptions{})
	if diags.HasErrors() {
		t.Fatalf("apply: %s\n%s", diags.Error(), r.log.String())
	}
	return r
}

// TestAwaitFailsFast runs restoreWithoutClear, the mistake the seed warns
// of: the Initial cycle cannot match the restored user, reports
// AttributeValueMustBeUnique and deletes it again. The await must end at
// once with that error instead of waiting its 3 hours. The run is not
// rolled back on its own, because the completed sync cycle cannot be.
func TestAwaitFailsFast(t *testing.T) {
	want, _ := anchor.ImmutableIDFromGUID("012114da-8d79-4015-8a5f-ddfc20df81db")
	src := strings.Replace(restoreWithoutClear, "NEW_ANCHOR", want, 1)
	start := time.Now()
	r := runOnLab(t, "restore-mistake", src, map[string]string{"upn": "nicki@contoso.com"})
	rep := r.rep
	if len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0].Address, "entra_user_state.bound") ||
		!strings.Contains(rep.Failures[0].Err, "PropertyConflict") {
		t.Fatalf("failures = %+v\n%s", rep.Failures, r.log.String())
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("the await took %s to give up", time.Since(start))
	}
	if rep.Status != journal.StatusFailed || len(rep.Reverted) != 0 {
		t.Fatalf("status %s, reverted %v", rep.Status, rep.Reverted)
	}
	// Sync deleted the restored user again, as the seed describes.
	if l, _ := r.tn.CloudUsers(lab.CloudQuery{Deleted: true, UserPrincipalName: "nicki@contoso.com"}); len(l) != 1 {
		t.Fatalf("recycle bin: %d users", len(l))
	}
}
