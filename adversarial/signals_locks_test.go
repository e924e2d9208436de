package adversarial

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// holdRunbook appends to out/ledger.txt, marks out/holding and waits until
// out/release exists: a run that holds its object for as long as the test
// wants.
const holdRunbook = `
runbook "hold" {
  title = "An action that holds its object"
}

step "exec" "hold" {
  command = ["sh", "-c", "echo entry >> out/ledger.txt; touch out/holding; while [ ! -e out/release ]; do sleep 0.02; done"]
}
`

// Two applies of one runbook at once: the second finds the object locked.
// It must write nothing, leave no run behind that someone could resume (it
// would hold no locks and was never checked for drift), name the run that
// holds the object, and say to apply again once that run has ended; and
// applying again then works.
func TestConcurrentApplyLoserIsToldToApplyAgain(t *testing.T) {
	needTool(t, "sh")
	w := newWorkspace(t)
	w.write("out/.keep", "")
	w.write("hold.hcl", holdRunbook)
	first := w.start("apply", "-auto-approve", "hold.hcl")
	first.waitFor("out/holding", 30*time.Second)
	holder := w.onlyRun().ID

	second := w.run("apply", "-auto-approve", "hold.hcl")
	mustFail(t, second)
	if !strings.Contains(second.Stderr, holder) || !strings.Contains(second.Stderr, "apply again") {
		t.Errorf("the refused apply must name run %s and say to apply again:\n%s", holder, second.Stderr)
	}
	for _, m := range regexp.MustCompile("rebind (?:resume|rollback) (\\S+)").FindAllStringSubmatch(second.Stderr, -1) {
		if strings.Trim(m[1], "`.,)") != holder {
			t.Errorf("the refused apply advises %q, about a run other than the holder %s:\n%s", m[0], holder, second.Stderr)
		}
	}
	if runs := w.runs(); len(runs) != 1 {
		t.Errorf("%d runs after the refused apply, want only the holder's: %+v", len(runs), runs)
	}
	if got := w.lines("out/ledger.txt"); got != 1 {
		t.Errorf("ledger has %d entries, want 1: the refused apply must not run the action", got)
	}

	w.write("out/release", "")
	mustSucceed(t, first.wait(30*time.Second))
	mustSucceed(t, w.run("apply", "-auto-approve", "hold.hcl"))
	if got := w.lines("out/ledger.txt"); got != 2 {
		t.Errorf("ledger has %d entries after applying again, want 2", got)
	}
	for _, r := range w.runs() {
		if r.Status != "succeeded" {
			t.Errorf("run %s is %s, want every run succeeded", r.ID, r.Status)
		}
	}
}
