package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApproveFromSignedCopies: the author sends the plan to two reviewers,
// each signs the copy they got, and approve --from brings both signatures
// into the author's file, which then applies. A copy of another plan, or
// one signed by a key the allowed-signers file does not list, is refused
// and the plan file is left as it was.
func TestApproveFromSignedCopies(t *testing.T) {
	dir, alice, bob, _ := twoReviewers(t) // dave wrote the plan
	mallory := newReviewer(t, dir, "mallory", "")
	c := cliRun{t, dir}
	mustRun, mustFail := c.mustRun, c.mustFail
	copyFile := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, from))
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(dir, to), string(b))
	}

	mustRun("plan", "rb.hcl", "-out", "p.plan", "--author", "dave")
	copyFile("p.plan", "alice.plan")
	copyFile("p.plan", "bob.plan")
	copyFile("p.plan", "mallory.plan")
	mustRun("approve", "alice.plan", "--key", alice.keyFile)
	mustRun("approve", "bob.plan", "--key", bob.keyFile)
	mustRun("approve", "mallory.plan", "--key", mallory.keyFile)
	mustRun("plan", "rb.hcl", "-out", "other.plan", "--author", "erin") // another plan: its author differs
	mustRun("approve", "other.plan", "--key", alice.keyFile)

	before, _ := os.ReadFile(filepath.Join(dir, "p.plan"))
	mustFail("a copy of another plan", "approve", "p.plan", "--from", "other.plan")
	mustFail("not written", "approve", "p.plan", "--from", "alice.plan", "--from", "mallory.plan", "--allowed-signers", "allowed_signers")
	if after, _ := os.ReadFile(filepath.Join(dir, "p.plan")); string(after) != string(before) {
		t.Fatal("a refused merge changed the plan file")
	}
	mustFail("give one of --key SSH_KEY, --signature FILE or --from COPY", "approve", "p.plan", "--from", "alice.plan", "--key", bob.keyFile)

	out := mustRun("approve", "p.plan", "--from", "alice.plan", "--from", "bob.plan", "--allowed-signers", "allowed_signers")
	if !strings.Contains(out, "Added the approval of alice") || !strings.Contains(out, "Added the approval of bob") || !strings.Contains(out, "Approvals: 2 of 2") {
		t.Fatalf("merge output:\n%s", out)
	}
	if out := mustRun("approve", "p.plan", "--from", "bob.plan"); !strings.Contains(out, "already holds every signature") {
		t.Errorf("a second merge:\n%s", out)
	}
	mustRun("apply", "p.plan", "--allowed-signers", "allowed_signers")
	if b, err := os.ReadFile(filepath.Join(dir, "out", "a.txt")); err != nil || string(b) != "a\n" {
		t.Fatalf("out/a.txt = %q, %v", b, err)
	}
}
