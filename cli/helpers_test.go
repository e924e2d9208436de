package cli

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rebind-dev/rebind/internal/e2e"
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

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	e2e.WriteFile(t, path, content)
}
