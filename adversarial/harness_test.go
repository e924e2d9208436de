package adversarial

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/cli"
	"github.com/rebind-dev/rebind/internal/e2e"
)

// TestMain lets the test binary act as the rebind command: with
// REBIND_TEST_AS_CLI=1 it runs cli.Main on its arguments and exits.
func TestMain(m *testing.M) {
	if os.Getenv(e2e.AsCLI) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// result is how one rebind process ended and everything it wrote.
type result struct {
	Args   []string
	Stdout string
	Stderr string
	Code   int
	// MaxRSS is the process's peak resident memory in bytes.
	MaxRSS int64
	Wall   time.Duration
}

// Output is stdout and stderr together, for searching.
func (r result) Output() string { return r.Stdout + r.Stderr }

// workspace is a scratch directory with its own state directory, in which
// rebind runs as a child process. Every result is kept, so a test can
// search all that rebind printed (a canary secret, say).
type workspace struct {
	t        *testing.T
	Dir      string
	StateDir string
	// Env is added to every command's environment.
	Env []string

	mu      sync.Mutex
	results []result
}

func newWorkspace(t *testing.T) *workspace {
	t.Helper()
	dir := t.TempDir()
	return &workspace{t: t, Dir: dir, StateDir: filepath.Join(dir, ".rebind")}
}

// write creates a file under the workspace (folders included) and returns
// its path.
func (w *workspace) write(name, content string) string {
	w.t.Helper()
	p := filepath.Join(w.Dir, name)
	e2e.WriteFile(w.t, p, content)
	return p
}

// read returns a file under the workspace, "" when it does not exist.
func (w *workspace) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(w.Dir, name))
	return string(b)
}

// command returns rebind as a child process in the workspace, not started.
// It runs in a process group of its own, so a test can signal it (and what
// it started) without touching the test binary.
func (w *workspace) command(args ...string) *exec.Cmd {
	// The workspace's own state directory overrides e2e's default.
	cmd := e2e.Rebind(w.Dir, append([]string{"REBIND_STATE_DIR=" + w.StateDir}, w.Env...), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// run runs rebind to the end with stdin empty.
func (w *workspace) run(args ...string) result {
	w.t.Helper()
	return w.runInput(nil, args...)
}

// runInput runs rebind to the end with stdin from in.
func (w *workspace) runInput(in io.Reader, args ...string) result {
	w.t.Helper()
	cmd := w.command(args...)
	cmd.Stdin = in
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := w.finish(cmd, args, out.String(), errb.String(), start)
	if err != nil && cmd.ProcessState == nil {
		w.t.Fatalf("rebind %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// finish records a finished process's result.
func (w *workspace) finish(cmd *exec.Cmd, args []string, stdout, stderr string, start time.Time) result {
	r := result{Args: args, Stdout: stdout, Stderr: stderr, Code: -1, Wall: time.Since(start)}
	if ps := cmd.ProcessState; ps != nil {
		r.Code = ps.ExitCode()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSS = ru.Maxrss * 1024 // Linux reports KiB
		}
	}
	w.mu.Lock()
	w.results = append(w.results, r)
	w.mu.Unlock()
	return r
}

// outputs returns every result so far.
func (w *workspace) outputs() []result {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]result(nil), w.results...)
}

// mustSucceed fails the test unless r exited 0.
func mustSucceed(t *testing.T, r result) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("rebind %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
	}
}

// mustFail fails the test unless r exited non-zero.
func mustFail(t *testing.T, r result) {
	t.Helper()
	if r.Code == 0 {
		t.Fatalf("rebind %s: exit 0, want a failure\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.Stdout, r.Stderr)
	}
}

// needTool skips a test when a program it needs is missing, except in CI
// (CI=true), where a missing tool is a failure: CI installs everything.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; CI must install it (scripts/test.sh)", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}
