package runbooks_test

import (
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/internal/e2e"
)

// killRounds is how many times each runbook's apply is killed. Each round
// costs a lab and a child process; 8 rounds of 5 runbooks keep the package
// well under its time budget on a 2-core machine.
const killRounds = 8

// scenarioCase prepares a lab in a seed's failing state and names the job
// that fixes it.
type scenarioCase struct {
	name     string
	scenario string
	prepare  func(l *lab)
	job      func(t *testing.T, l *lab) job
}

var cases = []scenarioCase{
	{"restore-mistake", "restore-mistake", nil, func(t *testing.T, l *lab) job { return restoreMistake(l) }},
	{"rebuilt-ad-hard-match", "rebuilt-ad", func(l *lab) { l.sync("Initial") }, func(t *testing.T, l *lab) job {
		return rebuiltJob(l, rebuiltUsers...)
	}},
	{"archive-guid-mismatch", "archive-guid-mismatch", func(l *lab) { l.sync("Delta") }, func(t *testing.T, l *lab) job {
		return l.newJob("archive-guid-mismatch", map[string]string{"upn": "arch2@contoso.com"})
	}},
	{"exchange-guid-in-use", "exchange-guid-in-use", func(l *lab) { l.sync("Delta") }, func(t *testing.T, l *lab) job {
		j := l.newJob("exchange-guid-in-use", map[string]string{"upn": "frank@contoso.com"})
		j.Approve = []string{`step.approve.purge_mailbox["8151336f-4f32-4f15-85cf-552965dc85de"]`}
		return j
	}},
	{"offboard-relink", "offboard-relink", func(l *lab) { l.sync("Delta") }, func(t *testing.T, l *lab) job {
		return offboardJob(t, l, l.dump())
	}},
	{"consistency-guid-carryover", "forest-move", nil, func(t *testing.T, l *lab) job { return carryoverJob(l) }},
	{"hard-match-takeover", "cloud-only-takeover", nil, func(t *testing.T, l *lab) job { return takeoverJob(l, takeoverUsers...) }},
	{"dar-duplicate-cleanup", "cloud-only-dar", nil, func(t *testing.T, l *lab) job { return darJob(l, "mia", "noah") }},
}

// rerunnable are the actions a person may safely run again when a crash
// leaves them in doubt: another sync cycle, another re-provisioning request.
var rerunnable = []string{"step.adsync_cycle.", "step.entra_user_reprovision."}

func (c scenarioCase) setup(t *testing.T) (*lab, job) {
	l := startLab(t, c.scenario)
	if c.prepare != nil {
		c.prepare(l)
	}
	j := c.job(t, l)
	j.Rerun = rerunnable
	return l, j
}

// childCmd is the job as a separate rebind process, not yet started.
func childCmd(j job) *exec.Cmd {
	spec, _ := json.Marshal(j)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "REBIND_RUNBOOKS_CHILD="+string(spec))
	return cmd
}

// child starts the job as a separate rebind process.
func child(t *testing.T, j job) *e2e.Proc {
	t.Helper()
	return e2e.Start(t, childCmd(j))
}

// TestKillAndResume kills each runbook's apply, a real child process, with
// SIGKILL at a random point, resumes it, and requires the end state of an
// uninterrupted run, object by object.
func TestKillAndResume(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The reference: the same child process, not interrupted.
			l, j := c.setup(t)
			start := time.Now()
			if out, err := child(t, j).Wait(); err != nil {
				t.Fatalf("uninterrupted run: %v\n%s", err, out)
			}
			full := time.Since(start)
			want := l.dump()

			var p *e2e.Proc
			_, killed := e2e.KillAndResume{
				Rounds: killRounds,
				Full:   full,
				Rand:   rng,
				Start: func(int) *exec.Cmd {
					l, j = c.setup(t)
					p = child(t, j)
					return p.Cmd
				},
				Resume: func(round int, delay time.Duration, exit error) bool {
					rep, rerr := j.run(context.Background(), testLog{t})
					if rerr != nil {
						t.Fatalf("round %d (killed after %s): resume: %v\nchild output:\n%s", round, delay, rerr, p.Out)
					}
					if rep.Status != journal.StatusSucceeded {
						t.Fatalf("round %d (killed after %s): resumed run ended %s: %+v", round, delay, rep.Status, rep.Failures)
					}
					sameEnd(t, want, l.dump())
					return exit != nil
				},
			}.Run(t)
			t.Logf("%d rounds of %s: %d killed mid-run (run takes %s)", killRounds, c.name, killed, full.Round(time.Millisecond))
		})
	}
}

// trigger is an engine log that calls fn, once, right before the step
// whose progress line contains marker is written: the lab changes between
// two steps, as when another admin acts during a run.
type trigger struct {
	t      *testing.T
	marker string
	fn     func()
	once   sync.Once
}

func (tr *trigger) Write(p []byte) (int, error) {
	if strings.Contains(string(p), tr.marker) {
		tr.once.Do(tr.fn)
	}
	return testLog{tr.t}.Write(p)
}

// applyFailing applies j with fn run right before marker's step, and
// returns the report (the run is expected to fail).
func applyFailing(t *testing.T, j job, marker string, fn func()) *reportT {
	t.Helper()
	tr := &trigger{t: t, marker: marker, fn: fn}
	rep, err := j.run(context.Background(), tr)
	if err != nil {
		t.Fatalf("%s: %v", j.Runbook, err)
	}
	if rep.Status == journal.StatusSucceeded {
		t.Fatalf("%s succeeded, but the test made %s fail", j.Runbook, marker)
	}
	return rep
}

func notReverted(rep *reportT) []string {
	var out []string
	for _, n := range rep.NotReverted {
		out = append(out, n.Address)
	}
	return out
}

func hasPrefix(l []string, p string) bool {
	for _, s := range l {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestRollback fails each runbook midway by changing the lab between two
// steps, and checks that what can be reverted is, back to the starting
// state, and that what cannot is reported.
func TestRollback(t *testing.T) {
	organizationOnly := func(k string, o map[string]any) bool { return k == "organization" }

	t.Run("restore-mistake", func(t *testing.T) {
		// Sync is switched off just before the Initial cycle: the cycle
		// fails; restore and clear are reverted on their own.
		_, before, after := rollBackAt(t, "restore-mistake", "step.adsync_cycle.initial")
		after.cloudUser(t, "nicki@contoso.com", true)
		unchangedExcept(t, before, after, organizationOnly)
	})

	t.Run("archive-guid-mismatch", func(t *testing.T) {
		_, before, after := rollBackAt(t, "archive-guid-mismatch", "step.adsync_cycle.delta")
		if got := str(after.adUser(t, "arch2@contoso.com")["msExchArchiveGUID"]); got != "eeeeeeee-eeee-eeee-eeee-eeeeeeeeeeee" {
			t.Errorf("msExchArchiveGUID after rollback = %s", got)
		}
		unchangedExcept(t, before, after, organizationOnly)
	})

	t.Run("exchange-guid-in-use", func(t *testing.T) {
		// The hold is put back on between its release and the purge: the
		// purge refuses. The removal of the delay hold the release left
		// cannot be undone, so the run stops without rolling back on its
		// own; a rollback reverts the release and reports the delay hold.
		l, j, rep, before := failAt(t, "exchange-guid-in-use", "step.exo_recipient_purge.holder", func(l *lab) {
			if _, err := l.in.Tenant.SetLitigationHold("8151336f-4f32-4f15-85cf-552965dc85de", true); err != nil {
				t.Error(err)
			}
		})
		stoppedPastIrreversible(t, rep)
		if !strings.Contains(rep.Failures[0].Err, "litigation hold") {
			t.Errorf("failure %q does not name the hold", rep.Failures[0].Err)
		}
		if nr := notReverted(j.rollback(t)); !hasPrefix(nr, "step.exo_delay_hold.release") {
			t.Errorf("not reverted %v; want the delay hold's removal reported", nr)
		}
		unchangedExcept(t, before, l.dump(), nil)
	})

	t.Run("offboard-relink", func(t *testing.T) {
		// The cycle fails after sync was switched off and on: the run stops
		// (the switch cannot be undone), and a rollback reverts the remote
		// mailboxes and the cleared immutable IDs and reports the switch.
		l, j, rep, before := failAt(t, "offboard-relink", "step.adsync_cycle.cycle", syncOff)
		stoppedPastIrreversible(t, rep)
		nr := notReverted(j.rollback(t))
		if !hasPrefix(nr, "module.sync_off.step.entra_dir_sync.off") || !hasPrefix(nr, "step.entra_dir_sync.on") {
			t.Errorf("not reverted %v; want the sync switch reported", nr)
		}
		after := l.dump()
		for _, n := range []string{"ann", "bob", "cy", "dana", "eli"} {
			if ad := after.adUser(t, n+"@contoso.com"); ad["targetAddress"] != nil || ad["msExchMailboxGuid"] != nil {
				t.Errorf("%s's remote mailbox was not reverted: %v", n, ad)
			}
		}
		for upn, id := range map[string]string{"dana@contoso.com": "YRYCSH2QkEu/PXyMR3P1Sw==", "eli@contoso.com": "2hQhAXmNFUCKX938IN+B2w=="} {
			if got := str(after.cloudUser(t, upn, false)["onPremisesImmutableId"]); got != id {
				t.Errorf("%s: immutable ID %q after rollback, want %q back", upn, got, id)
			}
		}
		// The users' sync state is what the irreversible switch left.
		unchangedExcept(t, before, after, func(k string, o map[string]any) bool {
			return k == "organization" || (strings.HasPrefix(k, "user:") && o["onPremisesSyncEnabled"] == false)
		})
	})

	t.Run("rebuilt-ad-hard-match", func(t *testing.T) {
		l, j, rep, before := failAt(t, "rebuilt-ad-hard-match", "module.bind.step.adsync_cycle.initial", syncOff)
		stoppedPastIrreversible(t, rep)
		nr := notReverted(j.rollback(t))
		for _, p := range []string{"module.sync_off.step.entra_dir_sync.off", "step.entra_dir_sync.on", "step.entra_user_purge.stale"} {
			if !hasPrefix(nr, p) {
				t.Errorf("not reverted %v; want %s reported", nr, p)
			}
		}
		after := l.dump()
		for _, o := range before.list("users") {
			if strings.HasSuffix(str(o["userPrincipalName"]), ".old@contoso.com") || str(o["deletedDateTime"]) != "" {
				continue
			}
			upn := str(o["userPrincipalName"])
			if got, want := str(after.cloudUser(t, upn, false)["onPremisesImmutableId"]), str(o["onPremisesImmutableId"]); got != want {
				t.Errorf("%s: immutable ID %q after rollback, want %q back", upn, got, want)
			}
		}
	})
}

// TestRollbackCarryover fails consistency-guid-carryover at its cycle:
// the anchors written into the new accounts are cleared again and the
// scheduler is held as it was, so Connect imports nothing with a half
// carried set of anchors.
func TestRollbackCarryover(t *testing.T) {
	l, before, after := rollBackAt(t, "consistency-guid-carryover", "module.bind.step.adsync_cycle.initial")
	for _, n := range movedUsers {
		if g := after.adUser(t, n+"@contoso.com")["mS-DS-ConsistencyGuid"]; g != nil {
			t.Errorf("%s: mS-DS-ConsistencyGuid %v after rollback, want it empty again", n, g)
		}
	}
	if l.in.Tenant.Scheduler().SyncCycleEnabled {
		t.Error("the scheduler runs after the rollback; it was held")
	}
	unchangedExcept(t, before, after, func(k string, o map[string]any) bool { return k == "organization" })
}

// TestRollbackTakeover fails hard-match-takeover at its cycle, after the
// approval: the immutable IDs written are cleared again, so the users stay
// cloud-only, and no account was taken over.
func TestRollbackTakeover(t *testing.T) {
	_, before, after := rollBackAt(t, "hard-match-takeover", "module.bind.step.adsync_cycle.initial")
	for _, n := range takeoverUsers {
		u := after.cloudUser(t, n+"@contoso.com", false)
		if u["onPremisesImmutableId"] != nil || u["onPremisesSyncEnabled"] != nil {
			t.Errorf("%s after rollback: immutable ID %v, synced %v; want cloud-only again", n, u["onPremisesImmutableId"], u["onPremisesSyncEnabled"])
		}
	}
	unchangedExcept(t, before, after, func(k string, o map[string]any) bool { return k == "organization" })
}

// failAt sets up the named case, applies its runbook with fail called on
// the lab right before the step whose progress line holds marker, and
// returns the lab, the job, the report (the run must not succeed) and the
// lab's state before the run.
func failAt(t *testing.T, name, marker string, fail func(l *lab)) (*lab, job, *reportT, state) {
	t.Helper()
	l, j := caseNamed(t, name).setup(t)
	before := l.dump()
	rep := applyFailing(t, j, marker, func() { fail(l) })
	return l, j, rep, before
}

// syncOff turns directory sync off in the lab: the next cycle fails.
func syncOff(l *lab) {
	if err := l.in.Tenant.SetDirSyncEnabled(false); err != nil {
		l.t.Error(err)
	}
}

// rollBackAt fails the case's run with directory sync turned off right
// before the step at marker (a cycle), and requires the run rolled back
// in full on its own. It returns the lab and its state before and after.
func rollBackAt(t *testing.T, name, marker string) (l *lab, before, after state) {
	t.Helper()
	l, _, rep, before := failAt(t, name, marker, syncOff)
	if rep.Status != journal.StatusRolledBack || len(rep.NotReverted) > 0 {
		t.Fatalf("status %s, not reverted %v; want rolled back in full", rep.Status, notReverted(rep))
	}
	return l, before, l.dump()
}

// stoppedPastIrreversible requires a failed run that did not roll back on
// its own: a step it completed cannot be undone.
func stoppedPastIrreversible(t *testing.T, rep *reportT) {
	t.Helper()
	if rep.Status == journal.StatusRolledBack {
		t.Fatal("rolled back on its own past an irreversible step")
	}
}

func caseNamed(t *testing.T, name string) scenarioCase {
	for _, c := range cases {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no case %s", name)
	return scenarioCase{}
}

type reportT = engine.Report
