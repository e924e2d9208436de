package cli

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/rebind-dev/rebind/engine/approval"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/steps"
)

var approveNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// reviewer is a key on disk, as --key reads it.
type reviewer struct {
	name, keyFile string
	pub           ssh.PublicKey
}

// newReviewer writes an OpenSSH ed25519 private key for name into dir,
// protected by passphrase when it is not empty.
func newReviewer(t *testing.T, dir, name, passphrase string) reviewer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, name)
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, name, []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return reviewer{name: name, keyFile: path, pub: sp}
}

// savedPlan writes a plan by dave that needs two approvals.
func savedPlan(t *testing.T, dir string) string {
	t.Helper()
	src := `runbook "restore-mistake" {
  approvals = 2
}

variable "upn" {
  type = string
}

target "entra" "tenant" {}

step "entra_immutable_id" "clear" {
  upn          = var.upn
  immutable_id = null
}
`
	typ, ok := steps.Lookup("entra_immutable_id")
	if !ok {
		t.Fatal("no entra_immutable_id step type")
	}
	st := plan.NewStep("step.entra_immutable_id.clear", "step", "entra_immutable_id", typ.Info())
	st.Instances = []plan.Instance{{Address: "step.entra_immutable_id.clear", Object: "entra:user:alice.smith@contoso.com", Action: "update",
		Before: plan.Value(`{"immutable_id":"4AUlP4lP0xGaDAMF6CwzAQ=="}`), After: plan.Value(`{"immutable_id":null}`)}}
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Runbook: plan.Runbook{Name: "restore-mistake", Digest: plan.SourcesDigest(map[string][]byte{"main.hcl": []byte(src)}),
			Sources: map[string]string{"main.hcl": src}},
		Inputs:      map[string]plan.Value{"upn": plan.Value(`"alice.smith@contoso.com"`)},
		Targets:     []plan.Target{{Type: "entra", Name: "tenant", Config: plan.Value(`{}`)}},
		Steps:       []plan.Step{st},
		Permissions: slices.Sorted(slices.Values(typ.Info().Permissions)),
		Approvals:   plan.Policy{Required: 2},
		Author:      "dave",
		Created:     approveNow.Add(-time.Hour),
		Expires:     approveNow.Add(23 * time.Hour),
	}
	if _, err := approval.Consistent(p); err != nil {
		t.Fatalf("the test plan is not consistent with its sources: %v", err)
	}
	path := filepath.Join(dir, "restore.plan")
	if err := p.Write(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeAllowed(t *testing.T, dir string, rs ...reviewer) string {
	t.Helper()
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s %s\n", r.name, plan.AuthorizedKey(r.pub))
	}
	path := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func approve(t *testing.T, o approveOptions) (string, error) {
	t.Helper()
	var out bytes.Buffer
	o.IO = &IO{In: strings.NewReader(""), Out: &out, Err: &out}
	o.Now = func() time.Time { return approveNow }
	err := runApprove(&o)
	return out.String(), err
}

func readPlan(t *testing.T, path string) *plan.Plan {
	t.Helper()
	p, err := plan.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApproveThenCheckPlan(t *testing.T) {
	t.Setenv("REBIND_ALLOWED_SIGNERS", "")
	dir := t.TempDir()
	path := savedPlan(t, dir)
	alice := newReviewer(t, dir, "alice", "")
	bob := newReviewer(t, dir, "bob", "correct horse")
	dave := newReviewer(t, dir, "dave", "")
	outsider := newReviewer(t, dir, "outsider", "")
	allowed := writeAllowed(t, dir, alice, bob, dave)

	out, err := approve(t, approveOptions{Path: path, KeyFile: alice.keyFile, AllowedSigners: allowed})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"as alice, key ED25519 SHA256:", "Approvals: 1 of 2 (alice).", "It needs 1 more."} {
		if !strings.Contains(out, want) {
			t.Errorf("approve said %q, want %q", out, want)
		}
	}
	err = checkPlan(readPlan(t, path), approveNow, allowed)
	if !errors.Is(err, plan.ErrTooFewApprovals) || !strings.Contains(err.Error(), "needs 2 approvals, has 1: alice") {
		t.Fatalf("checkPlan after one approval = %v", err)
	}

	before, _ := os.ReadFile(path)
	if _, err := approve(t, approveOptions{Path: path, KeyFile: dave.keyFile, AllowedSigners: allowed}); !errors.Is(err, plan.ErrAuthorSignature) {
		t.Errorf("the author approving = %v, want ErrAuthorSignature", err)
	}
	if _, err := approve(t, approveOptions{Path: path, KeyFile: outsider.keyFile, AllowedSigners: allowed}); !errors.Is(err, plan.ErrUnknownSigner) {
		t.Errorf("an outsider approving = %v, want ErrUnknownSigner", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a refused approval changed the plan file")
	}

	// bob's key has a passphrase; the allowed signers come from the
	// environment.
	t.Setenv("REBIND_ALLOWED_SIGNERS", allowed)
	out, err = approve(t, approveOptions{Path: path, KeyFile: bob.keyFile, Passphrase: func(string) ([]byte, error) { return []byte("correct horse"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Approvals: 2 of 2 (alice, bob).") || !strings.Contains(out, "has the approvals it needs") {
		t.Errorf("approve said %q", out)
	}
	if err := checkPlan(readPlan(t, path), approveNow, ""); err != nil {
		t.Fatalf("checkPlan with two approvals: %v", err)
	}
	if err := checkPlan(readPlan(t, path), approveNow.Add(24*time.Hour), ""); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("checkPlan after expiry = %v", err)
	}

	// One byte of the plan changed after it was signed.
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, bytes.Replace(b, []byte(`"author": "dave"`), []byte(`"author": "davf"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	err = checkPlan(readPlan(t, path), approveNow, "")
	if !errors.Is(err, plan.ErrWrongDigest) || !strings.Contains(err.Error(), "signature 1 by alice") || !strings.Contains(err.Error(), "signature 2 by bob") {
		t.Fatalf("checkPlan of a changed plan = %v", err)
	}

	t.Setenv("REBIND_ALLOWED_SIGNERS", "")
	if err := checkPlan(readPlan(t, path), approveNow, ""); err == nil || !strings.Contains(err.Error(), "give an allowed-signers file") {
		t.Errorf("checkPlan without allowed signers = %v", err)
	}
}

func TestApproveWithoutAllowedSigners(t *testing.T) {
	t.Setenv("REBIND_ALLOWED_SIGNERS", "")
	dir := t.TempDir()
	path := savedPlan(t, dir)
	alice := newReviewer(t, dir, "alice", "")
	out, err := approve(t, approveOptions{Path: path, KeyFile: alice.keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "carries 1 signature and needs 2 approvals") {
		t.Errorf("approve said %q", out)
	}
	if _, err := approve(t, approveOptions{Path: path}); err == nil {
		t.Error("approve without --key or --signature succeeded")
	}
}

func TestApproveWithSSHKeygenSignature(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh-keygen is needed (Debian: openssh-client)")
		}
		t.Skip("ssh-keygen not found (Debian: openssh-client)")
	}
	t.Setenv("REBIND_ALLOWED_SIGNERS", "")
	dir := t.TempDir()
	path := savedPlan(t, dir)
	alice := newReviewer(t, dir, "alice", "")
	carol := newReviewer(t, dir, "carol", "")
	allowed := writeAllowed(t, dir, alice, carol)
	if _, err := approve(t, approveOptions{Path: path, KeyFile: alice.keyFile, AllowedSigners: allowed}); err != nil {
		t.Fatal(err)
	}

	// carol signs what `rebind show --format digest` prints, newline and
	// all, with ssh-keygen.
	var digest bytes.Buffer
	if err := runShow(&showOptions{IO: &IO{Out: &digest, Err: &digest}, Path: path, Format: "digest", Now: time.Now}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(keygen, "-Y", "sign", "-n", "rebind-plan", "-f", carol.keyFile)
	cmd.Stdin = &digest
	sig, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v", err)
	}
	sigFile := filepath.Join(dir, "plan.sig")
	if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := approve(t, approveOptions{Path: path, SignatureFile: sigFile, AllowedSigners: allowed})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "as carol") || !strings.Contains(out, "Approvals: 2 of 2 (alice, carol).") {
		t.Errorf("approve said %q", out)
	}
	if err := checkPlan(readPlan(t, path), approveNow, allowed); err != nil {
		t.Fatal(err)
	}
}

func TestShowFormats(t *testing.T) {
	dir := t.TempDir()
	path := savedPlan(t, dir)
	digest := readPlan(t, path).Digest()
	show := func(format string, redact bool) (string, error) {
		var out bytes.Buffer
		err := runShow(&showOptions{IO: &IO{Out: &out, Err: &out}, Path: path, Format: format, Redact: redact, Now: time.Now})
		return out.String(), err
	}
	for _, tt := range []struct {
		format string
		want   []string
	}{
		{"markdown", []string{"### rebind plan restore-mistake", "| `step.entra_immutable_id.clear` | update |"}},
		{"html", []string{"<!DOCTYPE html>", "step.entra_immutable_id.clear"}},
		{"digest", []string{digest + "\n"}},
		{"text", []string{"Plan digest  sha256:" + digest}},
	} {
		for _, redact := range []bool{false, true} {
			if tt.format == "digest" && redact {
				continue
			}
			out, err := show(tt.format, redact)
			if err != nil {
				t.Fatalf("%s: %v", tt.format, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("show --format %s (redact %v) lacks %q:\n%s", tt.format, redact, w, out)
				}
			}
			if redact && (strings.Contains(out, "alice.smith") || !strings.Contains(out, digest)) {
				t.Errorf("show --format %s --redact shows a UPN or lost the digest:\n%s", tt.format, out)
			}
		}
	}
	if _, err := show("json", true); err == nil {
		t.Error("show --format json --redact succeeded")
	}
}

// twoReviewers makes a folder holding rb.hcl, a runbook whose plans need
// two approvals, and reviewers alice, bob and dave, whom its
// allowed_signers file lists.
func twoReviewers(t *testing.T) (dir string, alice, bob, dave reviewer) {
	t.Helper()
	dir = t.TempDir()
	mustWrite(t, filepath.Join(dir, "rb.hcl"), `
runbook "two-reviewers" {
  title     = "A file two people must agree on"
  approvals = 2
}

step "file" "a" {
  path    = "out/a.txt"
  content = "a\n"
}
`)
	alice = newReviewer(t, dir, "alice", "")
	bob = newReviewer(t, dir, "bob", "")
	dave = newReviewer(t, dir, "dave", "")
	writeAllowed(t, dir, alice, bob, dave)
	return dir, alice, bob, dave
}

// TestApproveApplyEndToEnd runs plan -out, approve and apply as a team
// would: the author's plan needs two approvals; the author's own approval
// is refused, one approval is not enough, two are.
func TestApproveApplyEndToEnd(t *testing.T) {
	dir, alice, bob, dave := twoReviewers(t)
	c := cliRun{t, dir}
	mustRun, mustFail := c.mustRun, c.mustFail
	mustRun("plan", "rb.hcl", "-out", "p.plan", "--author", "dave")
	mustFail("the plan needs 2 approvals (the runbook asks for 2); give an allowed-signers file", "apply", "p.plan")
	mustFail("the author cannot approve their own plan", "approve", "p.plan", "--key", dave.keyFile, "--allowed-signers", "allowed_signers")
	mustRun("approve", "p.plan", "--key", alice.keyFile, "--allowed-signers", "allowed_signers")
	mustFail("needs 2 approvals, has 1: alice", "apply", "p.plan", "--allowed-signers", "allowed_signers")
	if _, err := os.Stat(filepath.Join(dir, "out", "a.txt")); err == nil {
		t.Fatal("a refused apply wrote the file")
	}
	mustRun("approve", "p.plan", "--key", bob.keyFile, "--allowed-signers", "allowed_signers")
	mustRun("apply", "p.plan", "--allowed-signers", "allowed_signers")
	if b, err := os.ReadFile(filepath.Join(dir, "out", "a.txt")); err != nil || string(b) != "a\n" {
		t.Fatalf("out/a.txt = %q, %v", b, err)
	}
}

// TestApproveWithAgentKey signs with a key held by ssh-agent, named by its
// public key file, as a reviewer whose key lives in an agent would.
func TestApproveWithAgentKey(t *testing.T) {
	dir := t.TempDir()
	path := savedPlan(t, dir)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = agent.ServeAgent(keyring, c)
			}()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	pub, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(dir, "erin.pub")
	if err := os.WriteFile(pubFile, ssh.MarshalAuthorizedKey(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	allowed := writeAllowed(t, dir, reviewer{name: "erin", pub: pub})
	out, err := approve(t, approveOptions{Path: path, KeyFile: pubFile, AllowedSigners: allowed})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "as erin, key RSA") {
		t.Errorf("approve said %q", out)
	}
	ap, err := plan.Verify(readPlan(t, path), mustAllowed(t, allowed), approveNow)
	if !errors.Is(err, plan.ErrTooFewApprovals) || strings.Join(ap.Signers, ",") != "erin" {
		t.Fatalf("Verify = %v, %v", ap, err)
	}

	// A public key the agent does not hold is refused with its reason.
	other := newReviewer(t, dir, "other", "")
	if err := os.WriteFile(pubFile, ssh.MarshalAuthorizedKey(other.pub), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := approve(t, approveOptions{Path: path, KeyFile: pubFile}); err == nil || !strings.Contains(err.Error(), "ssh-agent does not hold the key") {
		t.Errorf("approve with a key the agent lacks = %v", err)
	}
}

func mustAllowed(t *testing.T, path string) *plan.AllowedSigners {
	t.Helper()
	as, err := plan.ReadAllowedSigners(path)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// cliRun runs rebind in dir without an allowed-signers file from the
// environment, as a reviewer's shell would, for tests that go through
// plan, approve and apply.
type cliRun struct {
	t   *testing.T
	dir string
}

func (c cliRun) run(args ...string) (string, error) {
	c.t.Helper()
	cmd := rebindCmd(c.t, c.dir, args...)
	cmd.Env = append(cmd.Env, "REBIND_ALLOWED_SIGNERS=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustRun runs rebind and fails the test unless it succeeds.
func (c cliRun) mustRun(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("rebind %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// mustFail runs rebind and fails the test unless it fails saying want.
func (c cliRun) mustFail(want string, args ...string) {
	c.t.Helper()
	out, err := c.run(args...)
	if err == nil || !strings.Contains(out, want) {
		c.t.Fatalf("rebind %s = %v, want a refusal saying %q:\n%s", strings.Join(args, " "), err, want, out)
	}
}

// checkPlan is what apply checks of a saved plan before it observes
// anything: the engine's approval check under the default policy, with
// the allowed signers of --allowed-signers or REBIND_ALLOWED_SIGNERS.
func checkPlan(p *plan.Plan, now time.Time, allowedSigners string) error {
	pol, err := loadPolicy("", allowedSigners)
	if err != nil {
		return err
	}
	_, err = approval.Check(p, pol, now)
	return err
}
