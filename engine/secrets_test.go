package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal"
)

// rotationSrc writes a secret to a file: run twice with two secrets, the
// second run observes the first secret in the file.
const rotationSrc = header + `
variable "pw" {
  type      = string
  sensitive = true
}
step "file" "cred" {
  path    = "cred.txt"
  content = var.pw
}
`

// TestObservedSecretsStayHidden: a step's observation of a secret
// argument (the old password a rotation replaces) is a secret too. It used
// to be in the plan in clear, with a plain SHA-256 of it, in the journal,
// and rollback wrote it back from there.
func TestObservedSecretsStayHidden(t *testing.T) {
	h := newHarness(t)
	old, next := "old-secret-4f1c", "new-secret-9b2e"
	if rep := h.apply(rotationSrc, map[string]string{"pw": old}); rep.Status != journal.StatusSucceeded {
		t.Fatalf("first apply: %s\n%s", rep.Status, h.log.String())
	}
	p := h.plan(rotationSrc, map[string]string{"pw": next})
	sum := sha256.Sum256([]byte(old))
	b := p.CanonicalBytes()
	for _, leak := range []string{old, hex.EncodeToString(sum[:])} {
		if bytes.Contains(b, []byte(leak)) {
			t.Fatalf("the rotation's plan holds %q: %s", leak, b)
		}
	}
	in := p.Steps[0].Instances[0]
	if !strings.HasPrefix(in.Fingerprint, "hmac:") || p.KeyID != h.e.KeyID() {
		t.Errorf("fingerprint %q, key id %q: want a keyed fingerprint under %s", in.Fingerprint, p.KeyID, h.e.KeyID())
	}
	if obs := p.ObservedValue(in); !strings.Contains(obs.String(), `"content":"(sensitive)"`) || !strings.Contains(obs.String(), `"sha256":"(sensitive)"`) {
		t.Errorf("observed = %s, want content and sha256 hidden", obs)
	}
	rep, diags := h.e.Apply(context.Background(), p, Inputs{Vars: map[string]string{"pw": next}}, ApplyOptions{})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded {
		t.Fatalf("rotation: %v %+v", diags, rep)
	}
	recs, _ := h.e.Store.Records(context.Background(), rep.RunID)
	for _, r := range recs {
		for _, leak := range []string{old, next, hex.EncodeToString(sum[:])} {
			if bytes.Contains(r.Data, []byte(leak)) || strings.Contains(r.Error, leak) {
				t.Fatalf("journal record %d holds %q: %s", r.Seq, leak, r.Data)
			}
		}
	}
	// The intent says so too: a rollback of the write left in doubt by a
	// crash works from it, and must not write a null back.
	for _, r := range recs {
		if r.Kind == journal.KindIntent && r.Step == "step.file.cred" && !bytes.Contains(r.Data, []byte(`"before_redacted":true`)) {
			t.Errorf("the intent does not mark its before-value as withheld: %s", r.Data)
		}
	}
	// Rolling back cannot bring the old secret back, and says so.
	back, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{Vars: map[string]string{"pw": next}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(back.NotReverted) != 1 || !strings.Contains(back.NotReverted[0].Err, "held a secret") {
		t.Errorf("rollback of the rotation: reverted %v, not reverted %+v", back.Reverted, back.NotReverted)
	}
	if got, _ := h.file("cred.txt"); got != next {
		t.Errorf("cred.txt after rollback = %q, want the new secret left in place", got)
	}
}

// TestPlanKeyedByAnotherStateDirectory: a plan whose sensitive values were
// fingerprinted with another state directory's key is refused with that
// reason, not reported as drift.
func TestPlanKeyedByAnotherStateDirectory(t *testing.T) {
	h := newHarness(t)
	h.apply(rotationSrc, map[string]string{"pw": "first-secret"})
	p := h.plan(rotationSrc, map[string]string{"pw": "second-secret"})
	other := &Engine{Store: h.e.Store, Log: &h.log, WorkDir: h.dir, Key: bytes.Repeat([]byte{7}, 32)}
	_, diags := other.Apply(context.Background(), p, Inputs{Vars: map[string]string{"pw": "second-secret"}}, ApplyOptions{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "keyed with the key of another state directory") {
		t.Fatalf("apply with another key: %v", diags)
	}
}

// TestForEachOverASecretIsRefused: keys become addresses, which every
// plan, journal record and log line shows.
func TestForEachOverASecretIsRefused(t *testing.T) {
	h := newHarness(t)
	src := header + `
variable "pw" {
  type      = string
  sensitive = true
}
step "test_value" "each" {
  for_each = toset([var.pw, "other"])
  key      = each.key
  value    = "1"
}
`
	diags := h.e.Validate(h.load(src))
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Invalid for_each argument") {
		t.Errorf("validate: %v", diags)
	}
	_, diags = h.e.Plan(context.Background(), h.load(src), Inputs{Vars: map[string]string{"pw": "hunter2-secret"}}, PlanOptions{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Invalid for_each argument") || strings.Contains(diags.Error(), "hunter2") {
		t.Errorf("plan: %v", diags)
	}
}

// TestTargetSettingsFromASecret: a target setting built from a sensitive
// variable is shown as (sensitive) in the plan, as a step argument is.
func TestTargetSettingsFromASecret(t *testing.T) {
	h := newHarness(t)
	src := `
runbook "t" {}
variable "tenant" {
  type      = string
  sensitive = true
}
target "test_conn" "c" {
  name = "tenant-${var.tenant}"
}
step "test_value" "a" {
  key   = "a"
  value = "1"
}
`
	p := h.plan(src, map[string]string{"tenant": "hidden-tenant-77"})
	if b := p.CanonicalBytes(); bytes.Contains(b, []byte("hidden-tenant-77")) {
		t.Fatalf("the plan shows a target setting built from a secret: %s", b)
	}
	if got := p.Targets[0].Config.String(); !strings.Contains(got, `"(sensitive)"`) {
		t.Errorf("target config = %s", got)
	}
}
