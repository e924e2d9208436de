package engine

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"golang.org/x/crypto/ssh"

	"github.com/rebind-dev/rebind/engine/approval"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/plan"
)

// approveAll signs p with as many fresh reviewer keys as it needs and
// returns a policy whose allowed signers list them: a plan that went
// through review, for tests about what happens after.
func approveAll(t *testing.T, p *plan.Plan) *approval.Policy {
	t.Helper()
	return approveN(t, p, p.RequiredApprovals())
}

// approveN signs p with n fresh reviewer keys and returns a policy whose
// allowed signers list them.
func approveN(t *testing.T, p *plan.Plan, n int) *approval.Policy {
	t.Helper()
	pol := approval.Default()
	pol.AllowedSigners = &plan.AllowedSigners{Name: "test reviewers"}
	for i := 0; i < n; i++ {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := plan.Sign(p, signer, time.Now()); err != nil {
			t.Fatal(err)
		}
		pol.AllowedSigners.Entries = append(pol.AllowedSigners.Entries, plan.AllowedSigner{
			Principals: []string{fmt.Sprintf("reviewer%d@contoso.com", i+1)}, Key: signer.PublicKey(), Line: i + 1,
		})
	}
	return pol
}

// tamperRunbook asks for one reviewer, two when a change cannot be undone;
// its exec step has no undo, so it cannot be.
const tamperRunbook = `
runbook "tamper" {
  approvals              = 1
  irreversible_approvals = 2
}

variable "key" {
  type    = string
  default = "k"
}

step "test_value" "set" {
  key   = var.key
  value = "v"
}

step "exec" "ledger" {
  command = ["sh", "-c", "echo ran >> ledger.txt"]
}
`

// tamper edits a plan's JSON as an attacker with the file would, and
// decodes the result.
func tamper(t *testing.T, p *plan.Plan, edit func(m map[string]any)) *plan.Plan {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(p.CanonicalBytes(), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	q, err := plan.Decode(b, "tampered")
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func stepsOf(m map[string]any) []any { return m["steps"].([]any) }

func instanceOf(m map[string]any, step, inst int) map[string]any {
	return stepsOf(m)[step].(map[string]any)["instances"].([]any)[inst].(map[string]any)
}

// TestApplyRecomputesApprovalPolicy: a plan's JSON cannot lower the number
// of approvals it needs. Each edit below gave, before apply recomputed the
// policy, a plan that ran with fewer signatures than its runbook demands;
// each is now refused as altered, naming the field, and nothing runs.
func TestApplyRecomputesApprovalPolicy(t *testing.T) {
	cases := []struct {
		name  string
		sigs  int // signatures the attacker can get
		edit  func(m map[string]any)
		field string
	}{
		{"approvals lowered to zero", 0, func(m map[string]any) {
			m["approvals"] = map[string]any{"required": 0}
		}, "approvals.required"},
		{"irreversible mark and reversibility removed", 1, func(m map[string]any) {
			st := stepsOf(m)[1].(map[string]any)
			st["reversibility"] = "reversible"
			delete(instanceOf(m, 1, 0), "irreversible")
		}, "steps[1].reversibility"},
		{"irreversible mark removed only", 1, func(m map[string]any) {
			delete(instanceOf(m, 1, 0), "irreversible")
		}, "steps[1].instances[0].irreversible"},
		{"step kind and repeat-safety", 2, func(m map[string]any) {
			st := stepsOf(m)[1].(map[string]any)
			st["kind"], st["repeat_safe"] = "ensure", true
		}, "steps[1].kind"},
		{"an input removed", 2, func(m map[string]any) {
			delete(m["inputs"].(map[string]any), "key")
		}, "inputs.key"},
		{"a shown value changed", 2, func(m map[string]any) {
			instanceOf(m, 1, 0)["notes"] = []any{"harmless: prints a line"}
		}, "steps[1].instances[0].notes"},
		{"the permissions shown emptied", 2, func(m map[string]any) {
			m["permissions"] = []any{}
		}, "permissions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			p := h.plan(tamperRunbook, nil)
			if !p.HasIrreversible() || p.RequiredApprovals() != 2 {
				t.Fatalf("the untampered plan needs %d approvals (irreversible %v), want 2", p.RequiredApprovals(), p.HasIrreversible())
			}
			q := tamper(t, p, c.edit)
			if c.sigs < q.RequiredApprovals() {
				t.Fatalf("the tampered plan says it needs %d approvals, more than the %d the attacker has: not an attack", q.RequiredApprovals(), c.sigs)
			}
			pol := approveN(t, q, c.sigs)
			rep, diags := h.e.Apply(context.Background(), q, Inputs{}, ApplyOptions{Saved: true, Policy: pol})
			if !diags.HasErrors() {
				t.Fatalf("a plan with %s applied: %+v", c.name, rep)
			}
			msg := diags.Error()
			if !errors.Is(diagErr(diags), approval.ErrAltered) {
				t.Fatalf("refused, but not as altered: %s", msg)
			}
			if !strings.Contains(msg, c.field) {
				t.Errorf("the refusal does not name %s: %s", c.field, msg)
			}
			if _, ran := h.file("ledger.txt"); ran || theWorld.get("k") != "" {
				t.Error("the tampered plan wrote something")
			}
		})
	}
}

// diagErr digs the error out of a diagnostic list when one was kept.
func diagErr(diags hcl.Diagnostics) error {
	for _, d := range diags {
		if e, ok := d.Extra.(error); ok {
			return e
		}
	}
	return nil
}

// TestApplyPolicyFloor: the applier's policy raises what a runbook asks
// for, and a plan cannot take it back.
func TestApplyPolicyFloor(t *testing.T) {
	const src = `
runbook "floor" {}

step "test_value" "set" {
  key   = "k"
  value = "v"
}

step "test_purge" "gone" {
  key = "other"
}
`
	h := newHarness(t)
	theWorld.set("other", "old")
	p := h.plan(src, nil)
	if p.RequiredApprovals() != 0 || !p.HasIrreversible() {
		t.Fatalf("the runbook asks for %d approvals, want 0", p.RequiredApprovals())
	}
	pol, diags := approval.Parse([]byte("approvals = 1\nirreversible_approvals = 2\n"), "policy.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, diags = h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{Saved: true, Policy: pol})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "needs 2 approvals") || !strings.Contains(diags.Error(), "policy.hcl sets at least 2") {
		t.Fatalf("apply under a policy floor of 2 for an irreversible change: %v", diags)
	}
	if theWorld.get("k") != "" {
		t.Fatal("the unapproved plan wrote")
	}
	// Two reviewers, listed in the policy's own allowed signers, suffice.
	pol.AllowedSigners = approveN(t, p, 2).AllowedSigners
	rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{Saved: true, Policy: pol})
	if diags.HasErrors() {
		t.Fatalf("apply with two approvals: %v", diags)
	}
	if rep.Status != journal.StatusSucceeded || theWorld.get("k") != "v" {
		t.Fatalf("apply with two approvals ended %s, k=%q", rep.Status, theWorld.get("k"))
	}
}
