package cli

import (
	"io"
	"io/fs"
	"math/rand"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rebind-dev/rebind"
	"github.com/rebind-dev/rebind/lab/statediff"
)

// labDump returns the lab's whole state.
func labDump(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u + "/lab/dump")
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

// TestKillAndResumeAgainstLabServe runs restore-mistake as real processes
// throughout: the lab is `rebind lab serve --state FILE`, the run is
// `rebind apply`, killed with SIGKILL at a random instant. Then the lab
// itself is stopped and served again from its state file (on new ports),
// and `rebind resume --lab NEW` must bring the tenant to exactly the state
// an uninterrupted run reaches.
func TestKillAndResumeAgainstLabServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two child processes per round; not in -short")
	}
	src, err := fs.ReadFile(rebind.Runbooks, "runbooks/restore-mistake/main.hcl")
	if err != nil {
		t.Fatal(err)
	}
	// Applied straight from the runbook, so without the saved plan's
	// approval: the approvals are tested elsewhere.
	runbook := strings.Replace(string(src), "approvals   = 1", "approvals   = 0", 1)
	if runbook == string(src) {
		t.Fatal("restore-mistake no longer says approvals = 1; update this test")
	}
	apply := func(dir, lab string) *testingCmd {
		return startCmd(t, dir, "--lab", lab, "apply", "-auto-approve", "-var", "upn=nicki@contoso.com", "main.hcl")
	}

	// The uninterrupted run gives the end state and a time scale.
	ref := t.TempDir()
	mustWrite(t, filepath.Join(ref, "main.hcl"), runbook)
	refLab, _ := startLab(t, ref, "--scenario", "restore-mistake", "--state", filepath.Join(ref, "lab.json"))
	start := time.Now()
	if out, err := apply(ref, refLab).wait(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	full := time.Since(start)
	want := labDump(t, refLab)

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	const rounds = 20
	midRun := 0
	for i := 0; i < rounds; i++ {
		dir := t.TempDir()
		mustWrite(t, filepath.Join(dir, "main.hcl"), runbook)
		state := filepath.Join(dir, "lab.json")
		lab, labCmd := startLab(t, dir, "--scenario", "restore-mistake", "--state", state)
		run := apply(dir, lab)
		// Process start-up takes a good part of a run; aim the kill at
		// the part where it works.
		time.Sleep(full/3 + time.Duration(rng.Int63n(int64(full-full/3)+1)))
		run.kill()

		// The lab goes down and comes back from its state file.
		_ = labCmd.Process.Signal(syscall.SIGTERM)
		_ = labCmd.Wait()
		lab2, _ := startLab(t, dir, "--state", state)

		runs := listRuns(t, dir)
		switch {
		case len(runs) == 0:
			if out, err := apply(dir, lab2).wait(); err != nil {
				t.Fatalf("round %d: apply after an early kill: %v\n%s", i, err, out)
			}
		case runs[0].Status != "succeeded":
			midRun++
			if out, err := runRebind(t, dir, "--lab", lab2, "resume", runs[0].ID); err != nil {
				t.Fatalf("round %d: resume: %v\n%s", i, err, out)
			}
		}
		changes, err := statediff.Diff(want, labDump(t, lab2))
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 0 {
			t.Fatalf("round %d: the end state differs from an uninterrupted run's: %+v", i, changes)
		}
	}
	t.Logf("%d rounds, %d killed mid-run (uninterrupted run: %s)", rounds, midRun, full)
	if midRun < rounds/5 {
		t.Errorf("only %d of %d kills landed mid-run; the test did not exercise resume", midRun, rounds)
	}
}
