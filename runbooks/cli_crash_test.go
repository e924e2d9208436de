package runbooks_test

import (
	"fmt"
	"maps"
	"math/rand"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/internal/e2e"
)

// rebindCLI runs this test binary as the rebind command in dir (TestMain
// hands it to cli.Main).
func rebindCLI(dir string, args ...string) *exec.Cmd { return e2e.Rebind(dir, nil, args...) }

// TestKillAndResumeCLI kills `rebind apply`, the command itself, with
// SIGKILL at random instants, then runs `rebind resume`, at least 50
// times. Every run must end exactly as an uninterrupted run does; a file
// already written before the kill must not be written again (its inode
// stays: the file step replaces files by rename); and every instance left
// in doubt must get a decision in the journal.
func TestKillAndResumeCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("kills 50 child processes; not in -short")
	}
	base := t.TempDir()
	// One uninterrupted run gives the expected end state and its duration.
	ref := filepath.Join(base, "ref")
	e2e.WriteFile(t, filepath.Join(ref, "crash.hcl"), e2e.FileRunbook)
	start := time.Now()
	if out, err := e2e.Run(rebindCLI(ref, "apply", "-auto-approve", "crash.hcl")); err != nil {
		t.Fatalf("uninterrupted apply: %v\n%s", err, out)
	}
	full := time.Since(start)
	if got, want := e2e.ReadOut(t, ref), e2e.ExpectedFiles(); !maps.Equal(got, want) {
		t.Fatalf("uninterrupted run: got %v, want %v", got, want)
	}

	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	const rounds = 50
	var inDoubtSeen, decisions int
	dirOf := func(i int) string { return filepath.Join(base, fmt.Sprintf("r%02d", i)) }
	played, killedMidRun := e2e.KillAndResume{
		Rounds: rounds,
		MidRun: rounds / 4,
		Full:   full,
		Rand:   rand.New(rand.NewSource(seed)),
		Start: func(i int) *exec.Cmd {
			dir := dirOf(i)
			e2e.WriteFile(t, filepath.Join(dir, "crash.hcl"), e2e.FileRunbook)
			cmd := rebindCLI(dir, "apply", "-auto-approve", "crash.hcl")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			return cmd
		},
		Resume: func(i int, delay time.Duration, _ error) (midRun bool) {
			dir := dirOf(i)
			runs := e2e.ListRuns(t, rebindCLI(dir, "runs", "--json"))
			before := e2e.Inodes(t, dir)
			switch {
			case len(runs) == 0:
				// Killed before the run was created: nothing was written.
				if got := e2e.ReadOut(t, dir); len(got) != 0 {
					t.Fatalf("round %d: files written without a run: %v", i, got)
				}
				if out, err := e2e.Run(rebindCLI(dir, "apply", "-auto-approve", "crash.hcl")); err != nil {
					t.Fatalf("round %d: apply after early kill: %v\n%s", i, err, out)
				}
			case runs[0].Status == "succeeded":
				// The kill came after the end.
			default:
				midRun = true
				doubt := e2e.ShowRun(t, rebindCLI(dir, "runs", "show", runs[0].ID, "--json")).InDoubt()
				inDoubtSeen += len(doubt)
				if out, err := e2e.Run(rebindCLI(dir, "resume", runs[0].ID)); err != nil {
					t.Fatalf("round %d (killed after %s): resume: %v\n%s", i, delay, err, out)
				}
				after := e2e.ShowRun(t, rebindCLI(dir, "runs", "show", runs[0].ID, "--json"))
				if after.Status != "succeeded" {
					t.Fatalf("round %d: status after resume = %s", i, after.Status)
				}
				for _, addr := range doubt {
					if !after.HasDecision(addr) {
						t.Errorf("round %d: %s was in doubt but the journal records no decision", i, addr)
					} else {
						decisions++
					}
				}
			}
			if got, want := e2e.ReadOut(t, dir), e2e.ExpectedFiles(); !maps.Equal(got, want) {
				t.Fatalf("round %d (killed after %s): end state differs:\n got %v\nwant %v", i, delay, got, want)
			}
			now := e2e.Inodes(t, dir)
			for name, ino := range before {
				if now[name] != ino {
					t.Errorf("round %d: %s was already written before the kill and was written again", i, name)
				}
			}
			return midRun
		},
	}.Run(t)
	t.Logf("%d rounds, %d killed mid-run, %d instances in doubt, %d decisions recorded (uninterrupted run: %s)",
		played, killedMidRun, inDoubtSeen, decisions, full)
	if killedMidRun < rounds/4 {
		t.Errorf("only %d of %d kills landed mid-run; the test did not exercise resume", killedMidRun, played)
	}
}
