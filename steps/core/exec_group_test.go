package core

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// forkingScripts start a subshell in the background that writes late.txt a
// second later, then wait far longer than any test: one whose subshell lets
// go of the output pipes, and one whose subshell and sleep keep them open.
var forkingScripts = map[string]string{
	"detached":      "(sleep 1; echo late >> late.txt) </dev/null >/dev/null 2>&1 & exec sleep 30",
	"holding pipes": "(sleep 1; echo late >> late.txt) & sleep 30",
}

// stopsTheTree runs fn (which runs a forking command under ctx) and checks
// that it returns the context's error soon after ctx ends, and that nothing
// the command started writes afterwards: it would write late.txt lateBy
// after the start.
func stopsTheTree(t *testing.T, dir string, lateBy time.Duration, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	decided := time.Since(start)
	late := filepath.Join(dir, "late.txt")
	_, statErr := os.Stat(late)
	writtenBefore := statErr == nil
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	// The timeout, the grace a SIGTERM gets, and slack for a loaded machine;
	// not the five seconds the output pipes may stay open.
	if decided > 200*time.Millisecond+execStopGrace+time.Second {
		t.Errorf("decided %v after the start, want soon after the 200ms timeout", decided.Round(time.Millisecond))
	}
	time.Sleep(time.Until(start.Add(lateBy + 500*time.Millisecond)))
	if _, err := os.Stat(late); err == nil && !writtenBefore {
		t.Errorf("a process the command forked wrote late.txt after the command was decided (%v)", decided.Round(time.Millisecond))
	}
}

// A command that times out is stopped with everything it started, so that
// nothing it forked can write after the step is decided.
func TestExecTimeoutStopsTheProcessTree(t *testing.T) {
	needSh(t)
	for name, script := range forkingScripts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run := &fakeRun{id: "r", dir: t.TempDir()}
			call := newCall(t, Exec{}, "step.exec.fork", run, map[string]cty.Value{"command": strs("sh", "-c", script)})
			stopsTheTree(t, run.dir, time.Second, func(ctx context.Context) error {
				_, err := (Exec{}).Apply(ctx, call, steps.Change{})
				return err
			})
		})
	}
}

// The undo command is run the same way.
func TestExecUndoTimeoutStopsTheProcessTree(t *testing.T) {
	needSh(t)
	for name, script := range forkingScripts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run := &fakeRun{id: "r", dir: t.TempDir()}
			call := newCall(t, Exec{}, "step.exec.fork", run, map[string]cty.Value{
				"command": strs("true"), "undo": strs("sh", "-c", script),
			})
			stopsTheTree(t, run.dir, time.Second, func(ctx context.Context) error {
				return (Exec{}).Revert(ctx, call, steps.Change{})
			})
		})
	}
}

// A command that ignores SIGTERM is killed once its grace is over.
func TestExecKillsWhatIgnoresTerm(t *testing.T) {
	needSh(t)
	run := &fakeRun{id: "r", dir: t.TempDir()}
	call := newCall(t, Exec{}, "step.exec.stubborn", run, map[string]cty.Value{
		"command": strs("sh", "-c", "trap '' TERM; (trap '' TERM; sleep 2; echo late >> late.txt) & while :; do sleep 0.05; done"),
	})
	stopsTheTree(t, run.dir, 2*time.Second, func(ctx context.Context) error {
		_, err := (Exec{}).Apply(ctx, call, steps.Change{})
		return err
	})
}

// A command that ends on its own is decided by its exit code, even when
// the context ends just after.
func TestExecExitBeforeCancelKeepsItsResult(t *testing.T) {
	needSh(t)
	call := newCall(t, Exec{}, "step.exec.quick", nil, map[string]cty.Value{"command": strs("sh", "-c", "exit 0")})
	ctx, cancel := context.WithCancel(context.Background())
	res, err := (Exec{}).Apply(ctx, call, steps.Change{})
	cancel()
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if code, _ := res.Value.GetAttr("exit_code").AsBigFloat().Int64(); code != 0 {
		t.Errorf("exit_code = %d", code)
	}
}
