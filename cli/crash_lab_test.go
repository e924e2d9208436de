package cli

import (
	"encoding/json"
	"io"
	"io/fs"
	"maps"
	"math/rand"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rebind-dev/rebind"
	"github.com/rebind-dev/rebind/internal/e2e"
	"github.com/rebind-dev/rebind/lab/statediff"
)

// labDump returns the lab's whole state.
func labDump(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := labClient(t, u).Get(u + "/lab/dump")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("dump: %v %s", err, resp.Status)
	}
	return b
}

// TestKillAndResumeAgainstLabServe runs every bundled runbook as real
// processes throughout: the lab is `rebind lab serve --state FILE`, the run
// is `rebind apply`, killed with SIGKILL at a random instant. Then the lab
// itself is stopped and served again from its state file (on new ports),
// and `rebind resume --lab NEW` (with `rebind approve-step` at the
// runbook's approve gates) must bring the tenant to exactly the state an
// uninterrupted run reaches, compared object by object.
func TestKillAndResumeAgainstLabServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two child processes per round; not in -short")
	}
	names, err := fs.Glob(rebind.Runbooks, "runbooks/*/rehearsal.json")
	if err != nil || len(names) < 5 {
		t.Fatalf("bundled runbooks: %v %v", names, err)
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for _, name := range names {
		name := path.Base(path.Dir(name))
		t.Run(name, func(t *testing.T) { killAndResumeAgainstLabServe(t, name, rng) })
	}
}

// approvalsLine matches a runbook's approvals and irreversible_approvals.
var approvalsLine = regexp.MustCompile(`(?m)^(\s*(?:irreversible_)?approvals\s*=\s*)\d+`)

// pausedAt finds the gate in a paused run's message: "Record a go-ahead
// with `rebind approve-step RUN ADDRESS`" (ADDRESS shell-quoted when it has
// a fan-out key).
var pausedAt = regexp.MustCompile("rebind approve-step \\S+ ('[^']*'|[^`\\s]+)`")

func killAndResumeAgainstLabServe(t *testing.T, name string, rng *rand.Rand) {
	dirFS := "runbooks/" + name
	src, err := fs.ReadFile(rebind.Runbooks, dirFS+"/main.hcl")
	if err != nil {
		t.Fatal(err)
	}
	var rh struct {
		Scenario string            `json:"scenario"`
		Vars     map[string]string `json:"vars"`
	}
	raw, err := fs.ReadFile(rebind.Runbooks, dirFS+"/rehearsal.json")
	if err == nil {
		err = json.Unmarshal(raw, &rh)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Applied straight from the runbook, so without the saved plan's
	// signatures: the approvals are tested elsewhere.
	runbook := approvalsLine.ReplaceAllString(string(src), "${1}0")
	gates := strings.Count(runbook, `step "approve"`)
	args := []string{"apply", "-auto-approve"}
	keys := slices.Sorted(maps.Keys(rh.Vars))
	for _, k := range keys {
		args = append(args, "-var", k+"="+rh.Vars[k])
	}
	args = append(args, "main.hcl")
	apply := func(dir, lab string) *e2e.Proc {
		return startCmd(t, dir, append([]string{"--lab", lab}, args...)...)
	}
	// passGate gives the go-ahead a paused run asks for, as a person would
	// after reading its message; it reports whether the run was paused.
	passGate := func(round int, dir string, run e2e.RunSummary) bool {
		if run.Status != "paused" {
			return false
		}
		m := pausedAt.FindStringSubmatch(run.Error)
		if m == nil {
			t.Fatalf("round %d: paused run %s does not say how to go on: %q", round, run.ID, run.Error)
		}
		gate := strings.TrimSuffix(strings.TrimPrefix(m[1], "'"), "'")
		if out, err := runRebind(t, dir, "approve-step", run.ID, gate, "--by", "reviewer"); err != nil {
			t.Fatalf("round %d: approve-step %s: %v\n%s", round, gate, err, out)
		}
		return true
	}
	// finish takes the run in dir to its end: apply when no run was
	// recorded, else a go-ahead at a gate and resume.
	finish := func(round int, dir, lab string) {
		for attempt := 0; attempt < gates+3; attempt++ {
			runs := listRuns(t, dir)
			if len(runs) == 0 {
				_, _ = apply(dir, lab).Wait() // may stop at a gate; the loop goes on
				continue
			}
			if len(runs) > 1 {
				t.Fatalf("round %d: %d runs, want 1", round, len(runs))
			}
			run := runs[0]
			if run.Status == "succeeded" {
				return
			}
			passGate(round, dir, run)
			if out, err := runRebind(t, dir, "--lab", lab, "resume", run.ID); err != nil && !strings.Contains(out, "paused") {
				t.Fatalf("round %d: resume: %v\n%s", round, err, out)
			}
		}
		t.Fatalf("round %d: the run did not finish: %+v", round, listRuns(t, dir))
	}
	// timed runs c to its end and says how long it worked after printing
	// marker (the run started or resumed): the span a kill should land in.
	timed := func(c *e2e.Proc, marker string) time.Duration {
		if !c.WaitOutput(marker, time.Minute) {
			out, _ := c.Wait()
			t.Fatalf("no %q from the reference run:\n%s", marker, out)
		}
		start := time.Now()
		_, _ = c.Wait()
		return time.Since(start)
	}
	// killWithin kills c at a random instant of the span d after marker.
	killWithin := func(c *e2e.Proc, marker string, d time.Duration) {
		if c.WaitOutput(marker, time.Minute) {
			time.Sleep(time.Duration(rng.Int63n(int64(d) + 1)))
		}
		c.Kill()
	}
	const started, resuming = " started (", "Resuming run "

	// The uninterrupted run gives the end state and the time scales: the
	// apply (up to the first gate, if any) and the resume after it.
	ref := t.TempDir()
	mustWrite(t, filepath.Join(ref, "main.hcl"), runbook)
	refLab, _ := startLab(t, ref, "--scenario", rh.Scenario, "--state", filepath.Join(ref, "lab.json"))
	dApply := timed(apply(ref, refLab), started)
	var dResume time.Duration
	if runs := listRuns(t, ref); len(runs) == 1 && passGate(-1, ref, runs[0]) {
		dResume = timed(startCmd(t, ref, "--lab", refLab, "resume", runs[0].ID), resuming)
	}
	finish(-1, ref, refLab)
	want := labDump(t, refLab)

	// Runs of a few milliseconds get more rounds, so that enough kills
	// land inside them.
	rounds := 8
	if dApply < time.Second {
		rounds = 20
	}
	// The reference run's times are taken once, maybe while the machine
	// was busier than during the rounds: a kill that lands after the run
	// ended narrows the window, and rounds go on (up to three times as
	// many) until two kills have landed mid-run.
	midRun, played := 0, 0
	for i := 0; i < rounds || midRun < 2 && i < 3*rounds; i++ {
		played++
		dir := t.TempDir()
		mustWrite(t, filepath.Join(dir, "main.hcl"), runbook)
		state := filepath.Join(dir, "lab.json")
		lab, labCmd := startLab(t, dir, "--scenario", rh.Scenario, "--state", state)
		if dResume > 0 && i%2 == 1 {
			// Past the gate: the kill lands in the resume after it.
			_, _ = apply(dir, lab).Wait()
			runs := listRuns(t, dir)
			if len(runs) != 1 || !passGate(i, dir, runs[0]) {
				t.Fatalf("round %d: the run did not stop at its gate: %+v", i, runs)
			}
			killWithin(startCmd(t, dir, "--lab", lab, "resume", runs[0].ID), resuming, dResume)
		} else {
			killWithin(apply(dir, lab), started, dApply)
		}

		// The lab goes down and comes back from its state file.
		_ = labCmd.Process.Signal(syscall.SIGTERM)
		_ = labCmd.Wait()
		lab2, _ := startLab(t, dir, "--state", state)

		if runs := listRuns(t, dir); len(runs) == 1 && runs[0].Status == "running" {
			midRun++
		} else if dResume > 0 && i%2 == 1 {
			dResume = dResume * 3 / 4
		} else {
			dApply = dApply * 3 / 4
		}
		finish(i, dir, lab2)
		changes, err := statediff.Diff(want, labDump(t, lab2))
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 0 {
			t.Fatalf("round %d: the end state differs from an uninterrupted run's: %+v", i, changes)
		}
	}
	t.Logf("%s: %d rounds, %d killed mid-run (kill windows at the end, after start-up: apply %s, resume after the gate %s)",
		name, played, midRun, dApply.Round(time.Millisecond), dResume.Round(time.Millisecond))
	if midRun < 2 {
		t.Errorf("only %d of %d kills landed mid-run; the test did not exercise resume", midRun, played)
	}
}
