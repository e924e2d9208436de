package adversarial

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rebind-dev/rebind/engine/plan"
)

// tamperRunbook asks for one reviewer, and two when a change cannot be
// undone; its exec step has no undo, so it cannot be. The ledger shows
// whether anything ran.
const tamperRunbook = `
runbook "tamper" {
  title                  = "Two files and a command"
  approvals              = 1
  irreversible_approvals = 2
}

variable "name" {
  type    = string
  default = "note"
}

variable "token" {
  type      = string
  sensitive = true
  default   = "unused"
}

step "file" "note" {
  path    = "out/${var.name}.txt"
  content = "reviewed\n"
}

step "exec" "ledger" {
  command = ["sh", "-c", "echo ran >> ledger.txt"]
}
`

// reviewerKey writes an unencrypted ed25519 key for name under the
// workspace and returns its path and its allowed-signers line.
func reviewerKey(t *testing.T, w *workspace, name string) (keyFile, allowedLine string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(w.Dir, "keys", name)
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return keyFile, name + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}

// editPlan rewrites a plan file's JSON as an attacker holding the file
// would.
func editPlan(t *testing.T, path string, edit func(m map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func planSteps(m map[string]any) []any { return m["steps"].([]any) }

func planStep(m map[string]any, i int) map[string]any { return planSteps(m)[i].(map[string]any) }

func planInstance(m map[string]any, step, inst int) map[string]any {
	return planStep(m, step)["instances"].([]any)[inst].(map[string]any)
}

// TestTamperedPlansAreRefused edits every field of a saved plan that
// decides how many approvals it needs, or what a reviewer believes it
// does, then tries to apply it with the signatures an attacker could
// collect (none, or one reviewer's). Every edit must be refused before
// anything runs, with a message that names the field; the untouched plan,
// with the approvals its runbook asks for, must apply.
func TestTamperedPlansAreRefused(t *testing.T) {
	w := newWorkspace(t)
	w.write("rb/main.hcl", tamperRunbook)
	aliceKey, aliceLine := reviewerKey(t, w, "alice")
	bobKey, bobLine := reviewerKey(t, w, "bob")
	w.write("allowed_signers", aliceLine+"\n"+bobLine+"\n")
	w.Env = append(w.Env, "REBIND_ALLOWED_SIGNERS="+filepath.Join(w.Dir, "allowed_signers"), "REBIND_POLICY=")

	mustSucceed(t, w.run("plan", "rb", "-out", "base.plan", "--author", "mallory"))
	base := w.read("base.plan")

	cases := []struct {
		name string
		// signers approve the tampered plan before apply.
		signers []string
		edit    func(m map[string]any)
		// extra arguments to apply.
		args []string
		// want is text the refusal must contain (the field it names).
		want string
		// dynamic marks a field only a fresh plan can check (it depends
		// on the directories): show and approve, which contact none,
		// cannot see it; apply must.
		dynamic bool
	}{
		{name: "approvals lowered to zero", edit: func(m map[string]any) {
			m["approvals"] = map[string]any{"required": 0}
		}, want: "approvals.required"},
		{name: "irreversible approvals lowered", signers: []string{"alice"}, edit: func(m map[string]any) {
			m["approvals"].(map[string]any)["irreversible_required"] = 1
		}, want: "approvals.irreversible_required"},
		{name: "step reversibility and instance mark", signers: []string{"alice"}, edit: func(m map[string]any) {
			planStep(m, 1)["reversibility"] = "reversible"
			delete(planInstance(m, 1, 0), "irreversible")
		}, want: "steps[1].reversibility"},
		{name: "instance irreversible mark only", signers: []string{"alice"}, edit: func(m map[string]any) {
			delete(planInstance(m, 1, 0), "irreversible")
		}, want: "steps[1].instances[0].irreversible", dynamic: true},
		{name: "step kind", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			planStep(m, 1)["kind"] = "ensure"
		}, want: "steps[1].kind"},
		{name: "repeat safety", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			planStep(m, 1)["repeat_safe"] = true
		}, want: "steps[1].repeat_safe"},
		{name: "irreversible reason", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			planStep(m, 1)["irreversible_reason"] = "harmless"
		}, want: "steps[1].irreversible_reason"},
		{name: "step type", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			planStep(m, 1)["type"] = "assert"
		}, want: "steps[1]"},
		{name: "action hidden", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			planInstance(m, 1, 0)["action"] = "no-op"
		}, want: "steps[1].instances[0]", dynamic: true},
		{name: "note rewritten", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			planInstance(m, 0, 0)["notes"] = []any{"only prints a line"}
		}, want: "steps[0].instances[0].notes", dynamic: true},
		{name: "observed value rewritten", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			// Where the plan stores it, under the digest of the forged
			// object, so that the file still reads.
			in := planInstance(m, 0, 0)
			objects := m["objects"].(map[string]any)
			delete(objects, in["observed_ref"].(string))
			ref := plan.ObjectRef(plan.Value(`{"exists":true}`))
			objects[ref] = map[string]any{"exists": true}
			in["observed_ref"] = ref
		}, want: "steps[0].instances[0].observed_ref", dynamic: true},
		{name: "object renamed", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			planInstance(m, 0, 0)["object"] = "file:/tmp/elsewhere"
		}, want: "steps[0].instances[0].object", dynamic: true},
		{name: "an input dropped", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			delete(m["inputs"].(map[string]any), "name")
		}, want: "inputs.name"},
		{name: "a sensitive input planted", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			m["inputs"].(map[string]any)["token"] = "planted"
			delete(m, "secret_inputs")
		}, want: "inputs.token"},
		{name: "permissions rewritten", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			m["permissions"] = []any{"none"}
		}, want: "permissions"},
		{name: "title rewritten", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			m["runbook"].(map[string]any)["title"] = "A harmless note"
		}, want: "runbook.title"},
		{name: "sources edited, digest kept", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			src := m["runbook"].(map[string]any)["sources"].(map[string]any)
			src["main.hcl"] = strings.Replace(src["main.hcl"].(string), "echo ran", "echo RAN", 1)
		}, want: "runbook.digest"},
		{name: "bound to a lab", signers: []string{"alice", "bob"}, edit: func(m map[string]any) {
			m["lab"] = "http://127.0.0.1:9"
		}, want: "made against the lab at http://127.0.0.1:9"},
		{name: "signature from the original carried over", edit: func(m map[string]any) {
			m["approvals"] = map[string]any{"required": 1, "irreversible_required": 1}
		}, signers: []string{"alice"}, want: "approvals.irreversible_required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Each attack starts from the world the plan was made in.
			t.Cleanup(func() {
				os.Remove(filepath.Join(w.Dir, "ledger.txt"))
				os.Remove(filepath.Join(w.Dir, "out", "note.txt"))
			})
			name := strings.ReplaceAll(c.name, " ", "-") + ".plan"
			w.write(name, base)
			path := filepath.Join(w.Dir, name)
			editPlan(t, path, c.edit)
			for _, s := range c.signers {
				key := map[string]string{"alice": aliceKey, "bob": bobKey}[s]
				// approve refuses an altered plan; the attacker adds
				// signatures made outside rebind instead.
				signOutside(t, path, key)
			}
			r := w.run(append([]string{"apply", name}, c.args...)...)
			mustFail(t, r)
			if !strings.Contains(r.Output(), c.want) {
				t.Errorf("the refusal does not name %q:\n%s", c.want, r.Output())
			}
			if got := w.read("ledger.txt"); got != "" {
				t.Fatalf("a tampered plan ran its command: ledger %q", got)
			}
			if got := w.read("out/note.txt"); got != "" {
				t.Fatalf("a tampered plan wrote its file: %q", got)
			}
			// A reviewer shown the plan is warned, and approve refuses.
			if !c.dynamic && c.want != "made against the lab at http://127.0.0.1:9" {
				sh := w.run("show", name)
				if sh.Code == 0 || !strings.Contains(sh.Stderr, "do not approve this plan") {
					t.Errorf("show of a tampered plan (exit %d) gave no warning:\n%s", sh.Code, sh.Stderr)
				}
				ap := w.run("approve", name, "--key", bobKey)
				if ap.Code == 0 || !strings.Contains(ap.Output(), "not approved") {
					t.Errorf("approve signed a tampered plan (exit %d):\n%s", ap.Code, ap.Output())
				}
			}
		})
	}

	t.Run("untouched plan applies with its approvals", func(t *testing.T) {
		mustSucceed(t, w.run("approve", "base.plan", "--key", aliceKey))
		r := w.run("apply", "base.plan")
		mustFail(t, r)
		if !strings.Contains(r.Output(), "needs 2 approvals, has 1: alice") {
			t.Fatalf("one approval of an irreversible plan:\n%s", r.Output())
		}
		mustSucceed(t, w.run("approve", "base.plan", "--key", bobKey))
		mustSucceed(t, w.run("apply", "base.plan"))
		if w.read("ledger.txt") != "ran\n" || w.read("out/note.txt") != "reviewed\n" {
			t.Fatalf("after apply: ledger %q, note %q", w.read("ledger.txt"), w.read("out/note.txt"))
		}
	})
}

// TestPolicyFloorHoldsAgainstTheRunbook: an attacker who rewrites the
// runbook inside the plan, digest and all, to ask for no approvals still
// meets the applier's policy.
func TestPolicyFloorHoldsAgainstTheRunbook(t *testing.T) {
	w := newWorkspace(t)
	src := strings.Replace(strings.Replace(tamperRunbook, "approvals              = 1", "approvals              = 0", 1),
		"irreversible_approvals = 2", "irreversible_approvals = 0", 1)
	w.write("rb/main.hcl", src)
	aliceKey, aliceLine := reviewerKey(t, w, "alice")
	_, bobLine := reviewerKey(t, w, "bob")
	w.write("allowed_signers", aliceLine+"\n"+bobLine+"\n")
	w.write("policy.hcl", "approvals = 1\nirreversible_approvals = 2\nallowed_signers = \"allowed_signers\"\n")
	w.Env = append(w.Env, "REBIND_ALLOWED_SIGNERS=")

	mustSucceed(t, w.run("plan", "rb", "-out", "p.plan", "--author", "mallory"))
	r := w.run("apply", "p.plan", "--policy", "policy.hcl")
	mustFail(t, r)
	if !strings.Contains(r.Output(), "needs 2 approvals") || !strings.Contains(r.Output(), "policy.hcl sets at least 2") {
		t.Fatalf("a plan under the policy floor:\n%s", r.Output())
	}
	mustSucceed(t, w.run("approve", "p.plan", "--key", aliceKey, "--allowed-signers", "allowed_signers"))
	w.Env = append(w.Env, "REBIND_POLICY="+filepath.Join(w.Dir, "policy.hcl"))
	r = w.run("apply", "p.plan")
	mustFail(t, r)
	if !strings.Contains(r.Output(), "needs 2 approvals, has 1: alice") {
		t.Fatalf("one approval under a floor of two:\n%s", r.Output())
	}
	// apply RUNBOOK cannot go around the policy either.
	r = w.run("apply", "rb", "-auto-approve")
	mustFail(t, r)
	if !strings.Contains(r.Output(), "needs 2 approvals under the policy") {
		t.Fatalf("apply RUNBOOK under a policy floor:\n%s", r.Output())
	}
	if w.read("ledger.txt") != "" {
		t.Fatal("the command ran below the policy's floor")
	}
	// A misspelt floor is an error, not no floor.
	w.write("typo.hcl", "aprovals = 3\n")
	r = w.run("apply", "p.plan", "--policy", "typo.hcl")
	mustFail(t, r)
	if !strings.Contains(r.Output(), "typo.hcl:1") || !strings.Contains(r.Output(), "aprovals") {
		t.Fatalf("a policy with an unknown attribute:\n%s", r.Output())
	}
}

// signOutside adds an approval the way a reviewer without rebind would
// (an SSHSIG over the plan's digest), so the attacker's plan gets exactly
// the signatures the case gives it.
func signOutside(t *testing.T, path, keyFile string) {
	t.Helper()
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Sign(p, signer, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(path); err != nil {
		t.Fatal(err)
	}
}
