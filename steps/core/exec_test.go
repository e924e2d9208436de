package core

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// The commands below run /bin/sh as the program under test; the exec step
// itself never uses a shell.
func needSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
}

func TestExecRunsWithoutShellAndReturnsOutput(t *testing.T) {
	needSh(t)
	run := &fakeRun{id: "r", dir: t.TempDir()}
	os.Mkdir(filepath.Join(run.dir, "work"), 0o755)
	call := newCall(t, Exec{}, "step.exec.hello", run, map[string]cty.Value{
		"command": strs("sh", "-c", `printf '%s|%s|%s' "$1" "$GREETING" "$(basename "$PWD")"; echo oops >&2`, "sh", "$HOME; rm -rf /"),
		"env":     cty.MapVal(map[string]cty.Value{"GREETING": str("hi")}),
		"dir":     str("work"),
	})
	obs, ch := plan(t, Exec{}, call)
	if obs.Object != "exec:step.exec.hello" || ch.Action != steps.Run {
		t.Errorf("Object %q, Action %s", obs.Object, ch.Action)
	}
	if !ch.After.Type().IsObjectType() || ch.After.Type().HasAttribute("env") {
		t.Errorf("the plan must show the command but not env: %#v", ch.After)
	}
	res, err := (Exec{}).Apply(context.Background(), call, ch)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Value.GetAttr("stdout").AsString(); got != "$HOME; rm -rf /|hi|work" {
		t.Errorf("stdout = %q: arguments must reach the program unexpanded", got)
	}
	if got := res.Value.GetAttr("stderr").AsString(); got != "oops\n" {
		t.Errorf("stderr = %q", got)
	}
	if code, _ := res.Value.GetAttr("exit_code").AsBigFloat().Int64(); code != 0 {
		t.Errorf("exit_code = %d", code)
	}
}

func TestExecExitCode(t *testing.T) {
	needSh(t)
	call := newCall(t, Exec{}, "step.exec.fail", nil, map[string]cty.Value{
		"command": strs("sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line$i >&2; done; exit 3"),
	})
	_, err := (Exec{}).Apply(context.Background(), call, steps.Change{})
	if err == nil {
		t.Fatal("exit code 3 was accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, "exited with code 3, expected 0") || !strings.Contains(msg, "line12") || strings.Contains(msg, "line2\n") {
		t.Errorf("err = %v, want the code and the last 10 lines of stderr", err)
	}
	if steps.IsPermanent(err) {
		t.Error("an exit code is not a permanent error: a retry may succeed")
	}

	call = newCall(t, Exec{}, "step.exec.expected", nil, map[string]cty.Value{
		"command": strs("sh", "-c", "exit 3"), "expect_exit": cty.NumberIntVal(3),
	})
	if _, err := (Exec{}).Apply(context.Background(), call, steps.Change{}); err != nil {
		t.Errorf("expect_exit = 3: %v", err)
	}
}

func TestExecMissingBinaryIsPermanent(t *testing.T) {
	call := newCall(t, Exec{}, "step.exec.nope", nil, map[string]cty.Value{
		"command": strs("rebind-no-such-program-here"),
	})
	_, err := (Exec{}).Apply(context.Background(), call, steps.Change{})
	if err == nil || !steps.IsPermanent(err) || !strings.Contains(err.Error(), "rebind-no-such-program-here") {
		t.Errorf("err = %v, want a permanent error naming the program", err)
	}
}

func TestExecMissingDirIsPermanent(t *testing.T) {
	call := newCall(t, Exec{}, "step.exec.nodir", nil, map[string]cty.Value{
		"command": strs("true"), "dir": str("no-such-dir"),
	})
	_, err := (Exec{}).Apply(context.Background(), call, steps.Change{})
	if err == nil || !steps.IsPermanent(err) || !strings.Contains(err.Error(), `"dir"`) {
		t.Errorf("err = %v, want a permanent error naming \"dir\"", err)
	}
}

func TestExecArgumentErrors(t *testing.T) {
	for name, args := range map[string]map[string]cty.Value{
		"empty command":   {"command": cty.ListValEmpty(cty.String)},
		"fractional exit": {"command": strs("true"), "expect_exit": cty.NumberFloatVal(1.5)},
		"empty undo":      {"command": strs("true"), "undo": cty.ListValEmpty(cty.String)},
	} {
		call := newCall(t, Exec{}, "step.exec.x", nil, args)
		if _, err := (Exec{}).Observe(context.Background(), call); err == nil || !strings.HasPrefix(err.Error(), "core: exec: step.exec.x: ") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestExecRevert(t *testing.T) {
	needSh(t)
	run := &fakeRun{id: "r", dir: t.TempDir()}
	call := newCall(t, Exec{}, "step.exec.touch", run, map[string]cty.Value{
		"command": strs("sh", "-c", "echo made > flag"),
		"undo":    strs("rm", "flag"),
	})
	apply(t, Exec{}, call)
	flag := filepath.Join(run.dir, "flag")
	if _, err := os.Stat(flag); err != nil {
		t.Fatalf("command did not run in the run directory: %v", err)
	}
	if err := (Exec{}).Revert(context.Background(), call, steps.Change{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(flag); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("undo did not run: %v", err)
	}

	noUndo := newCall(t, Exec{}, "step.exec.once", run, map[string]cty.Value{"command": strs("true")})
	if err := (Exec{}).Revert(context.Background(), noUndo, steps.Change{}); !errors.Is(err, steps.ErrIrreversible) {
		t.Errorf("Revert without undo: err = %v, want ErrIrreversible", err)
	}
}

func TestExecRepeatSafety(t *testing.T) {
	if (Exec{}).Info().RepeatSafe {
		t.Error("exec must not be repeat-safe by default")
	}
	off := newCall(t, Exec{}, "step.exec.x", nil, map[string]cty.Value{"command": strs("true")})
	on := newCall(t, Exec{}, "step.exec.x", nil, map[string]cty.Value{"command": strs("true"), "repeat_safe": cty.True})
	if (Exec{}).RepeatSafeCall(off) || !(Exec{}).RepeatSafeCall(on) {
		t.Error("RepeatSafeCall does not follow repeat_safe")
	}
}

func TestExecHonoursCancellation(t *testing.T) {
	needSh(t)
	call := newCall(t, Exec{}, "step.exec.slow", nil, map[string]cty.Value{"command": strs("sleep", "10")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (Exec{}).Apply(ctx, call, steps.Change{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled command took %v", d)
	}
}

func TestCappedBuffer(t *testing.T) {
	b := &cappedBuffer{max: 10}
	b.Write([]byte("0123456789abc\n"))
	b.Write([]byte("last line\n"))
	if b.String() != "0123456789" {
		t.Errorf("head = %q", b.String())
	}
	if got := b.lastLines(1); got != "last line" {
		t.Errorf("lastLines = %q", got)
	}
}
