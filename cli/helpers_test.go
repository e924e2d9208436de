package cli

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rebind-dev/rebind/internal/e2e"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/instance"
)

// rebindCmd returns a command that runs the test binary as rebind in dir,
// trusting the lab CA `rebind lab` writes there.
func rebindCmd(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	return e2e.Rebind(dir, []string{"REBIND_LAB_CA=" + filepath.Join(dir, labCAFile)}, args...)
}

func runRebind(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	return e2e.Run(rebindCmd(t, dir, args...))
}

// startCmd starts rebind in dir with its output collected.
func startCmd(t *testing.T, dir string, args ...string) *e2e.Proc {
	t.Helper()
	return e2e.Start(t, rebindCmd(t, dir, args...))
}

func listRuns(t *testing.T, dir string) []e2e.RunSummary {
	t.Helper()
	return e2e.ListRuns(t, rebindCmd(t, dir, "runs", "--json"))
}

func showRun(t *testing.T, dir, id string) e2e.Journal {
	t.Helper()
	return e2e.ShowRun(t, rebindCmd(t, dir, "runs", "show", id, "--json"))
}

// labInstance starts an in-process lab tenant with opt, closed when the test
// ends (or before, by the test).
func labInstance(t *testing.T, opt instance.Options) *instance.Instance {
	t.Helper()
	in, err := instance.Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

// scenarioLab starts a lab tenant from the bundled scenario name.
func scenarioLab(t *testing.T, name string) *instance.Instance {
	t.Helper()
	return labInstance(t, instance.Options{Scenario: name, Scenarios: lab.ScenarioFiles})
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	e2e.WriteFile(t, path, content)
}
