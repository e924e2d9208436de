package adversarial

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ledgerRunbook appends a line to out/ledger.txt, an action that is not
// safe to repeat unless repeat_safe says so. The first time it runs it then
// marks out/started and waits, so that a test can signal rebind while it is
// in flight; run again, it appends and returns. A second step records
// whether the run went on.
const ledgerRunbook = `
runbook "ledger" {
  title = "An action that appends to a ledger"
}

step "exec" "append" {
  command     = ["sh", "-c", "echo entry >> out/ledger.txt; if [ ! -e out/started ]; then echo $$ > out/pid; touch out/started; exec sleep 30; fi"]
  repeat_safe = %t
}

step "exec" "after" {
  command = ["sh", "-c", "echo after >> out/after.txt"]
}
`

const appendStep = "step.exec.append"

// interruptedRun applies the ledger runbook, sends sig to rebind's process
// group while the action is in flight, and returns how apply ended and the
// run's id.
func interruptedRun(t *testing.T, w *workspace, sig syscall.Signal, repeatSafe bool) (result, string) {
	t.Helper()
	w.write("out/.keep", "")
	w.write("ledger.hcl", fmt.Sprintf(ledgerRunbook, repeatSafe))
	t.Cleanup(func() {
		// After SIGKILL nothing stopped the command; its group is its own.
		if pid, err := strconv.Atoi(strings.TrimSpace(w.read("out/pid"))); err == nil {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	p := w.start("apply", "-auto-approve", "ledger.hcl")
	p.waitFor("out/started", 30*time.Second)
	p.signal(sig)
	r := p.wait(10 * time.Second)
	mustFail(t, r)
	return r, w.onlyRun().ID
}

// Ctrl-C, SIGTERM and SIGHUP while an exec action runs leave it in doubt,
// exactly as SIGKILL does: the journal holds its intent and nothing else,
// the run's status tells the truth, and rebind says what a person must
// decide. A resume then never repeats an action that is not safe to repeat
// unless told to, and repeats one that is.
func TestSignalLeavesActionInDoubt(t *testing.T) {
	needTool(t, "sh")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGKILL} {
		for _, repeatSafe := range []bool{false, true} {
			name := fmt.Sprintf("%s/repeat_safe=%t", strings.ReplaceAll(sig.String(), " ", "_"), repeatSafe)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				w := newWorkspace(t)
				r, id := interruptedRun(t, w, sig, repeatSafe)
				if got := w.lines("out/ledger.txt"); got != 1 {
					t.Fatalf("ledger has %d entries after the interrupt, want 1", got)
				}
				v := w.show(id)
				if got := v.kinds(appendStep); !reflect.DeepEqual(got, []string{"intent"}) {
					t.Errorf("journal of %s: %v, want its intent alone (in doubt)", appendStep, got)
				}
				advice := fmt.Sprintf("rebind resume %s --done ADDRESS", id)
				if sig != syscall.SIGKILL {
					// Stopped cleanly: the journal was written to the end,
					// and rebind says where the run stands.
					if strings.Contains(r.Stderr, "flush failed") || strings.Contains(v.Error, "flush failed") {
						t.Errorf("the journal's last writes failed:\n%s\nstatus text: %s", r.Stderr, v.Error)
					}
					if v.Status != "failed" || !strings.Contains(v.Error, "interrupted") {
						t.Errorf("run status %q (%q), want failed, interrupted", v.Status, v.Error)
					}
					if strings.Contains(r.Stderr, "failed: "+appendStep) {
						t.Errorf("the interrupted action is reported as failed:\n%s", r.Stderr)
					}
					inDoubt := strings.Contains(r.Stderr, "in doubt: "+appendStep) && strings.Contains(r.Stderr, advice)
					if !repeatSafe && !inDoubt {
						t.Errorf("apply does not say the action is in doubt and how to settle it (%q):\n%s", advice, r.Stderr)
					}
					if repeatSafe && (inDoubt || !strings.Contains(r.Stderr, "Resume it with `rebind resume "+id+"`")) {
						t.Errorf("a repeat-safe action needs no person; want plain resume advice:\n%s", r.Stderr)
					}
				}

				if repeatSafe {
					mustSucceed(t, w.run("resume", id))
					if got := w.lines("out/ledger.txt"); got != 2 {
						t.Errorf("ledger has %d entries, want 2: a repeat-safe action runs again", got)
					}
					checkDecision(t, w, id, "applied-again")
				} else {
					asked := w.run("resume", id)
					mustFail(t, asked)
					if !strings.Contains(asked.Stderr, "in doubt: "+appendStep) || !strings.Contains(asked.Stderr, advice) {
						t.Errorf("resume does not ask a person about the action:\n%s", asked.Stderr)
					}
					if got := w.lines("out/ledger.txt"); got != 1 {
						t.Fatalf("ledger has %d entries after a resume without a decision, want 1", got)
					}
					// Each signal is settled one way or the other, so both
					// answers are tried.
					flag, want, decision := "--done", 1, "marked-done"
					if sig == syscall.SIGTERM || sig == syscall.SIGKILL {
						flag, want, decision = "--rerun", 2, "rerun"
					}
					mustSucceed(t, w.run("resume", id, flag, appendStep))
					if got := w.lines("out/ledger.txt"); got != want {
						t.Errorf("ledger has %d entries after resume %s, want %d", got, flag, want)
					}
					checkDecision(t, w, id, decision)
				}
				if got := w.lines("out/after.txt"); got != 1 {
					t.Errorf("the step after the action ran %d times, want 1", got)
				}
			})
		}
	}
}

// checkDecision checks that the journal records how the in-doubt action was
// settled.
func checkDecision(t *testing.T, w *workspace, id, want string) {
	t.Helper()
	for _, r := range w.show(id).Records {
		var d struct{ Decision string }
		if r.Kind == "decision" && r.Step == appendStep && json.Unmarshal(r.Data, &d) == nil && d.Decision == want {
			return
		}
	}
	t.Errorf("the journal has no decision %q for %s", want, appendStep)
}
