package entra_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rebind "github.com/rebind-dev/rebind"
	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	_ "github.com/rebind-dev/rebind/lab/labsync"
	_ "github.com/rebind-dev/rebind/steps/adsync"
	"github.com/rebind-dev/rebind/steps/entra"
	_ "github.com/rebind-dev/rebind/steps/exo"
)

// restoreMistake is seed 000's fix as a runbook, the AD side left out: the
// new AD account's objectGUID is given.
const restoreMistake = `
runbook "restore-mistake" {
  title = "Re-bind a cloud user restored by mistake to its new AD account"
}

variable "upn" {
  type = string
}

target "entra" "tenant" {}

target "adsync" "connect" {}

data "entra_user" "old" {
  target  = target.entra.tenant
  upn     = var.upn
  deleted = true
}

step "entra_user_restored" "restore" {
  target = target.entra.tenant
  upn    = var.upn
  precondition {
    condition     = self.observed.deleted_days_left > 0
    error_message = "The cloud user left the 30-day recycle bin; it cannot be restored."
  }
}

step "entra_immutable_id" "clear" {
  target       = target.entra.tenant
  upn          = var.upn
  immutable_id = null
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
// tenant (--lab): every target reaches the lab over HTTP.
type labRun struct {
	tn  *lab.Tenant
	rep *engine.Report
	log bytes.Buffer
}

// runOnLab serves scenario (through wrap, when not nil), plans src with
// vars and applies it. With virtualWaits the engine's waits pass the lab's
// clock instead of real time. Plan errors fail the test; apply's outcome is
// returned.
func runOnLab(t *testing.T, scenario, src string, vars map[string]string, wrap func(http.Handler) http.Handler, virtualWaits bool) *labRun {
	t.Helper()
	tn, err := lab.LoadScenario(rebind.Scenarios, scenario)
	if err != nil {
		t.Fatal(err)
	}
	ls := lab.NewServer(tn, lab.ServerOptions{Anonymous: true})
	var h http.Handler = ls
	if wrap != nil {
		h = wrap(h)
	}
	srv := entra.ServeTLS(t, ls, h)
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
	if virtualWaits {
		e.PollInterval = time.Hour
		e.Sleep = func(ctx context.Context, d time.Duration) error { return tn.Advance(d) }
	}
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

// succeeded fails the test unless the run had no failure.
func (r *labRun) succeeded(t *testing.T) {
	t.Helper()
	if len(r.rep.Failures) > 0 {
		t.Fatalf("apply: %s %+v\n%s", r.rep.Status, r.rep.Failures, r.log.String())
	}
}

// TestRestoreMistakeThroughTheEngine plans and applies seed 000's runbook
// with the engine bound to a lab tenant (--lab): every target reaches the
// lab over HTTP, and the user ends bound to its new AD account.
func TestRestoreMistakeThroughTheEngine(t *testing.T) {
	want, _ := anchor.ImmutableIDFromGUID("012114da-8d79-4015-8a5f-ddfc20df81db")
	r := runOnLab(t, "restore-mistake", strings.Replace(restoreMistake, "NEW_ANCHOR", want, 1),
		map[string]string{"upn": "nicki@contoso.com"}, nil, false)
	r.succeeded(t)
	u, err := r.tn.CloudUser("nicki@contoso.com")
	if err != nil || u.OnPremisesImmutableID != want || !u.Synced() {
		t.Fatalf("user after the runbook: %+v %v", u, err)
	}
}

// TestAwaitFailsFast leaves out the clear step, the mistake the seed warns
// of: the Initial cycle cannot match the restored user, reports
// AttributeValueMustBeUnique and deletes it again. The await must end at
// once with that error instead of waiting its 3 hours. The run is not
// rolled back on its own, because the completed sync cycle cannot be.
func TestAwaitFailsFast(t *testing.T) {
	want, _ := anchor.ImmutableIDFromGUID("012114da-8d79-4015-8a5f-ddfc20df81db")
	src := strings.Replace(restoreMistake, "NEW_ANCHOR", want, 1)
	// Drop the clear step.
	i := strings.Index(src, `step "entra_immutable_id"`)
	j := strings.Index(src, `step "adsync_cycle"`)
	src = src[:i] + src[j:]
	start := time.Now()
	r := runOnLab(t, "restore-mistake", src, map[string]string{"upn": "nicki@contoso.com"}, nil, false)
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

// guidInUse is seed 002 (b)'s fix for frank, whose msExchMailboxGuid is held
// by a soft-deleted mailbox on litigation hold.
const guidInUse = `
runbook "exchange-guid-in-use" {
  title = "Free an ExchangeGuid held by a soft-deleted recipient and provision the user again"
}

variable "upn" {
  type = string
}

variable "guid" {
  type = string
}

target "entra" "tenant" {}

target "exo" "tenant" {}

data "exo_recipient" "holder" {
  target   = target.exo.tenant
  identity = var.guid
}

step "exo_hold" "release" {
  target   = target.exo.tenant
  identity = var.guid
  enabled  = false
}

# Releasing the hold leaves a delay hold, which keeps the mailbox on hold.
step "exo_delay_hold" "release" {
  target   = target.exo.tenant
  identity = var.guid
}

step "exo_recipient_purge" "holder" {
  target   = target.exo.tenant
  identity = var.guid
  precondition {
    condition     = data.exo_recipient.holder.count == 1
    error_message = "Exactly one recipient must hold the GUID."
  }
}

step "entra_user_reprovision" "user" {
  target = target.entra.tenant
  upn    = var.upn
}

step "entra_user_state" "provisioned" {
  target                 = target.entra.tenant
  upn                    = var.upn
  await                  = "5h"
  service_errors_cleared = true
}
`

// TestGUIDInUseThroughTheEngine runs seed 002 (b) for frank through the
// engine against the lab's Graph and Exchange endpoints: release the hold
// and the delay hold it leaves, purge the holder, provision frank again, wait for the error to clear.
func TestGUIDInUseThroughTheEngine(t *testing.T) {
	r := runOnLab(t, "exchange-guid-in-use", guidInUse,
		map[string]string{"upn": "frank@contoso.com", "guid": "52525252-5252-5252-5252-525252525252"}, nil, false)
	r.succeeded(t)
	u, _ := r.tn.CloudUser("frank@contoso.com")
	if len(u.ServiceProvisioningErrors) != 0 {
		t.Fatalf("frank still has %v", u.ServiceProvisioningErrors)
	}
	if l := r.tn.Recipients(lab.RecipientQuery{Identity: "frank@contoso.com"}); len(l) != 1 || l[0].ExchangeGUID.String() != "52525252-5252-5252-5252-525252525252" {
		t.Fatalf("frank's recipient: %+v", l)
	}
}

// rebuiltAD is seed 001's fix for one user: sync off, wait until the user
// is cloud-managed, purge the stale copy holding its addresses, write the new
// anchor, sync on, Initial cycle, wait until bound.
const rebuiltAD = `
runbook "rebuilt-ad" {
  title = "Re-anchor cloud users to a rebuilt AD"
}

variable "upn" {
  type = string
}

variable "stale_upn" {
  type = string
}

variable "object_guid" {
  type = string
}

target "entra" "tenant" {}

target "adsync" "connect" {}

step "entra_dir_sync" "off" {
  target  = target.entra.tenant
  enabled = false
}

step "entra_user_state" "cloud_managed" {
  target       = target.entra.tenant
  upn          = var.upn
  await        = "96h"
  sync_enabled = false
}

step "entra_user_purge" "stale" {
  target = target.entra.tenant
  upn    = var.stale_upn
}

step "entra_immutable_id" "new_anchor" {
  target       = target.entra.tenant
  upn          = var.upn
  immutable_id = immutable_id(var.object_guid)
}

step "entra_dir_sync" "on" {
  target  = target.entra.tenant
  enabled = true
}

step "adsync_cycle" "initial" {
  target = target.adsync.connect
  policy = "Initial"
}

step "entra_user_state" "bound" {
  target       = target.entra.tenant
  upn          = var.upn
  await        = "3h"
  immutable_id = immutable_id(var.object_guid)
  sync_enabled = true
  errors_since = step.adsync_cycle.initial.result.started
}
`

// TestRebuiltADThroughTheEngine runs seed 001's fix for user01 with the
// engine's waits passing the lab's virtual time, so the 72 hours directory
// sync takes to turn off go by in a moment.
func TestRebuiltADThroughTheEngine(t *testing.T) {
	const guid = "d31a8adf-95b2-467a-92b3-eeeaa66d8398" // user01's new objectGUID
	r := runOnLab(t, "rebuilt-ad", rebuiltAD,
		map[string]string{"upn": "user01@contoso.com", "stale_upn": "user01.old@contoso.com", "object_guid": guid}, nil, true)
	r.succeeded(t)
	want, _ := anchor.ImmutableIDFromGUID(guid)
	u, _ := r.tn.CloudUser("user01@contoso.com")
	if u.OnPremisesImmutableID != want || !u.Synced() || len(u.OnPremisesProvisioningErrors) != 0 {
		t.Fatalf("user01 = %+v", u)
	}
}
