package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

const (
	// execOutputCap bounds the stdout and stderr an exec step keeps, each.
	execOutputCap = 1 << 20
	// execStderrLines is how many trailing stderr lines an exit-code error
	// shows.
	execStderrLines = 10
	// execWaitDelay is how long a cancelled command's output pipes may stay
	// open (held by a child it started) before rebind stops waiting.
	execWaitDelay = 5 * time.Second
)

// Exec is the `exec` step type: it runs a command given as an argument list,
// never through a shell, so no argument is ever re-parsed or expanded.
//
// `env` adds to rebind's own environment; `dir` (relative to the directory
// the run was started in, which is also the default) is the working
// directory, shown resolved in the plan. An exit code other than
// `expect_exit` (0 by default) fails the step with the code and the last
// lines of stderr. The result is {exit_code, stdout, stderr},
// each output capped at 1 MiB. A command whose executable cannot be found
// fails permanently.
//
// rebind cannot see what a command did, so an exec step is undone only by
// the `undo` command its author supplies (run with the same env and dir);
// without one, Revert reports the change as irreversible. It is repeat-safe
// after a crash only when the author says so with `repeat_safe = true`.
type Exec struct{}

var (
	_ steps.Reverter     = Exec{}
	_ steps.RepeatSafety = Exec{}
)

func init() { steps.Register(Exec{}) }

// Info describes the exec step type.
func (Exec) Info() steps.Info {
	return steps.Info{
		Name: "exec",
		Doc:  "Runs a command (an argument list, never a shell line) and fails unless it exits with expect_exit.",
		Kind: steps.KindAction,
		Schema: steps.Schema{
			"command": {Type: cty.List(cty.String), Required: true,
				Doc: "The program and its arguments, such as [\"pwsh\", \"-File\", \"fix.ps1\"]."},
			"env": {Type: cty.Map(cty.String), Sensitive: true,
				Doc: "Variables added to the command's environment; kept out of plans and the journal as they often hold secrets."},
			"dir": {Type: cty.String,
				Doc: "The working directory; a relative one is resolved against the directory the run was started in (the default)."},
			"expect_exit": {Type: cty.Number,
				Doc: "The exit code that means success (default 0)."},
			"undo": {Type: cty.List(cty.String),
				Doc: "The command that reverts this one, run on rollback with the same env and dir."},
			"repeat_safe": {Type: cty.Bool,
				Doc: "Whether running the command again after a crash is harmless (default false)."},
		},
		Reversibility:      steps.Compensable,
		IrreversibleReason: "rebind cannot see what a command changed: an exec step is undone only by its own undo command, and cannot be undone without one.",
		RepeatSafe:         false,
	}
}

// ReversibilityOf is compensable with an undo command and irreversible
// without one, so a plan calls out an exec step nothing can take back.
func (Exec) ReversibilityOf(call steps.Call) steps.Reversibility {
	if v, ok := steps.Attr(call.Config, "undo"); ok && v.LengthInt() > 0 {
		return steps.Compensable
	}
	return steps.Irreversible
}

// RepeatSafeCall reports the step's repeat_safe argument.
func (Exec) RepeatSafeCall(call steps.Call) bool {
	ok, _ := boolArg(call.Config, "repeat_safe")
	return ok
}

// execArgs is a decoded exec block.
type execArgs struct {
	command    []string
	undo       []string
	env        []string
	dir        string
	expectExit int
}

func decodeExec(call steps.Call) (execArgs, error) {
	fail := func(err error) (execArgs, error) {
		return execArgs{}, fmt.Errorf("core: exec: %s: %w", call.Address, err)
	}
	var a execArgs
	a.command, _ = steps.Strings(call.Config, "command")
	if len(a.command) == 0 || a.command[0] == "" {
		return fail(errors.New(`"command" must name a program`))
	}
	if undo, ok := steps.Strings(call.Config, "undo"); ok {
		if len(undo) == 0 || undo[0] == "" {
			return fail(errors.New(`"undo", when given, must name a program`))
		}
		a.undo = undo
	}
	code, _, err := intArg(call.Config, "expect_exit")
	if err != nil {
		return fail(err)
	}
	a.expectExit = code
	dir, _ := stringArg(call.Config, "dir")
	if dir == "" {
		dir = "."
	}
	if a.dir, err = resolvePath(call, dir); err != nil {
		return fail(fmt.Errorf("%q: %w", "dir", err))
	}
	if env, ok := steps.Attr(call.Config, "env"); ok {
		env, _ = env.UnmarkDeep()
		names := make([]string, 0, env.LengthInt())
		vals := env.AsValueMap()
		for k := range vals {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return fail(fmt.Errorf("%q: bad variable name %q", "env", k))
			}
			v := ""
			if !vals[k].IsNull() {
				v = vals[k].AsString()
			}
			a.env = append(a.env, k+"="+v)
		}
	}
	return a, nil
}

// Observe checks the arguments; a command has no state to read.
func (Exec) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	if _, err := decodeExec(call); err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{Object: "exec:" + call.Address, Value: cty.EmptyObjectVal}, nil
}

// Diff always returns Run, showing the command line and directory.
func (Exec) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	a, err := decodeExec(call)
	if err != nil {
		return steps.Change{}, err
	}
	return steps.Change{Action: steps.Run, After: cty.ObjectVal(map[string]cty.Value{
		"command": call.Config.GetAttr("command"),
		"dir":     cty.StringVal(a.dir),
	})}, nil
}

// Apply runs the command and returns {exit_code, stdout, stderr}; an
// unexpected exit code is an error that carries the result too.
func (Exec) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	a, err := decodeExec(call)
	if err != nil {
		return steps.Result{}, err
	}
	res, err := runCommand(ctx, call, a, a.command, a.expectExit)
	if err != nil {
		return res, fmt.Errorf("core: exec: %s: %w", call.Address, err)
	}
	return res, nil
}

// Revert runs the undo command, expecting exit code 0, or reports the change
// as irreversible when there is none.
func (Exec) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	a, err := decodeExec(call)
	if err != nil {
		return err
	}
	if a.undo == nil {
		return fmt.Errorf("core: exec: %s: no %q command: %w", call.Address, "undo", steps.ErrIrreversible)
	}
	if _, err := runCommand(ctx, call, a, a.undo, 0); err != nil {
		return fmt.Errorf("core: exec: %s: undo: %w", call.Address, err)
	}
	return nil
}

// runCommand runs argv in a's directory and environment.
func runCommand(ctx context.Context, call steps.Call, a execArgs, argv []string, expect int) (steps.Result, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if errors.Is(cmd.Err, exec.ErrNotFound) || errors.Is(cmd.Err, os.ErrNotExist) {
		return steps.Result{}, steps.Permanent(fmt.Errorf("command %q: %w", argv[0], cmd.Err))
	}
	if fi, err := os.Stat(a.dir); err != nil || !fi.IsDir() {
		return steps.Result{}, steps.Permanent(fmt.Errorf("%q: %s is not a directory", "dir", a.dir))
	}
	cmd.Dir = a.dir
	cmd.Env = append(os.Environ(), a.env...)
	cmd.WaitDelay = execWaitDelay
	stdout, stderr := &cappedBuffer{max: execOutputCap}, &cappedBuffer{max: execOutputCap}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	logf(call, "%s: running %s", call.Address, quoteArgs(argv))
	err := cmd.Run()
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	res := steps.Result{Value: cty.ObjectVal(map[string]cty.Value{
		"exit_code": cty.NumberIntVal(int64(code)),
		"stdout":    cty.StringVal(stdout.String()),
		"stderr":    cty.StringVal(stderr.String()),
	})}
	var exitErr *exec.ExitError
	switch {
	case err != nil && ctx.Err() != nil:
		return res, fmt.Errorf("%s stopped: %w", quoteArgs(argv), ctx.Err())
	case err != nil && !errors.As(err, &exitErr):
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return res, steps.Permanent(fmt.Errorf("command %q: %w", argv[0], err))
		}
		return res, fmt.Errorf("%s: %w", quoteArgs(argv), err)
	case code != expect:
		msg := fmt.Sprintf("%s exited with code %d, expected %d", quoteArgs(argv), code, expect)
		if tail := stderr.lastLines(execStderrLines); tail != "" {
			msg += "; the last lines of stderr:\n" + tail
		}
		return res, errors.New(msg)
	}
	return res, nil
}

// quoteArgs shows an argument list unambiguously, for logs and errors.
func quoteArgs(argv []string) string {
	q := make([]string, len(argv))
	for i, s := range argv {
		q[i] = shellQuote(s)
	}
	return strings.Join(q, " ")
}

// cappedBuffer keeps the first max bytes written to it, and the last few
// KiB, so that an error can show how a long output ended.
type cappedBuffer struct {
	max  int
	head bytes.Buffer
	tail []byte
}

const cappedTail = 8 << 10

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.head.Len(); room > 0 {
		b.head.Write(p[:min(room, len(p))])
	}
	b.tail = append(b.tail, p...)
	if len(b.tail) > cappedTail {
		b.tail = append(b.tail[:0], b.tail[len(b.tail)-cappedTail:]...)
	}
	return len(p), nil
}

// String returns the kept output as valid UTF-8.
func (b *cappedBuffer) String() string {
	return strings.ToValidUTF8(b.head.String(), "\uFFFD")
}

// lastLines returns the last n non-empty lines of everything written.
func (b *cappedBuffer) lastLines(n int) string {
	lines := strings.Split(strings.TrimRight(strings.ToValidUTF8(string(b.tail), "\uFFFD"), "\r\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
