package cli

import (
	"os"
	"strings"
	"testing"
)

// TestRehearseEveryBundledRunbook runs `rebind rehearse NAME` for each
// runbook built into rebind, as the README tells a newcomer to: each must
// end with the success line, show what changed in the lab, and leave
// nothing behind in the directory it was run from.
func TestRehearseEveryBundledRunbook(t *testing.T) {
	for _, name := range bundled() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			out, err := runRebind(t, dir, "rehearse", name)
			if err != nil {
				t.Fatalf("rehearse %s: %v\n%s", name, err, out)
			}
			if !strings.Contains(out, "Rehearsal succeeded: "+name) || !strings.Contains(out, "What changed in the lab") {
				t.Fatalf("rehearse %s did not report success and changes:\n%s", name, out)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Fatalf("rehearse %s left files where it was run: %v", name, names)
			}
		})
	}
}

// A rehearsal of a runbook with no scenario, or of a runbook that does not
// exist, fails with a message that says what to do.
func TestRehearseRefusals(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, dir+"/plain.hcl", `runbook "plain" {}
step "file" "f" {
  path    = "x.txt"
  content = "x"
}
`)
	if out, err := runRebind(t, dir, "rehearse", "plain.hcl"); err == nil || !strings.Contains(out, "--scenario") {
		t.Fatalf("rehearse without a scenario: %v\n%s", err, out)
	}
	if out, err := runRebind(t, dir, "rehearse", "no-such-runbook"); err == nil || !strings.Contains(out, "No such runbook") {
		t.Fatalf("rehearse of an unknown runbook: %v\n%s", err, out)
	}
}

// TestRehearseRestoreMistakeWithoutTheAdminsAnswer: rebind rehearses with
// the lab's default app, an app-only token, which Graph refuses the read of
// the soft-match block (delegated Global Administrator only). Without the
// admin's answer (-var soft_match_blocked= overrides rehearsal.json's "no")
// the rehearsal stops before any change and says how to give it; with it
// (TestRehearseEveryBundledRunbook) it succeeds.
func TestRehearseRestoreMistakeWithoutTheAdminsAnswer(t *testing.T) {
	out, err := runRebind(t, t.TempDir(), "rehearse", "restore-mistake", "-var", "soft_match_blocked=")
	if err == nil || !strings.Contains(out, "could not read whether the tenant blocks soft match") ||
		!strings.Contains(out, "-var soft_match_blocked=no") || strings.Contains(out, "Rehearsal succeeded") {
		t.Fatalf("rehearse without the answer: %v\n%s", err, out)
	}
}
