package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
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
	// execWaitDelay is how long the output pipes of a command that ended on
	// its own may stay open (held by a child it started in the background)
	// before rebind stops waiting.
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
// A command runs as the leader of a session and process group of its own,
// without a controlling terminal. When the step's timeout passes or the run
// is interrupted, the whole group gets SIGTERM, and SIGKILL half a second
// later; the step is decided only once none of it can run, so nothing the
// command forked writes afterwards. A process that leaves the group on
// purpose (setsid) is beyond this. A command that wants the terminal (a
// password prompt) fails at once rather than waiting for input.
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
			"command": {Type: cty.List(cty.String), Required: true, Reflects: []string{"stdout", "stderr"},
				Doc: "The program and its arguments, such as [\"pwsh\", \"-File\", \"fix.ps1\"]."},
			"env": {Type: cty.Map(cty.String), Sensitive: true, Reflects: []string{"stdout", "stderr"},
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
	ok, _ := steps.Bool(call.Config, "repeat_safe")
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
	dir, _ := steps.String(call.Config, "dir")
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
	return observeNothing(call, "exec", decodeExec)
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

// runCommand runs argv in a's directory and environment, as the leader of a
// session and process group of its own. When ctx ends before the command
// does (the step's timeout, or the run being interrupted), the whole group
// is stopped, not only the command, and runCommand returns only once none of
// it can run again: a subshell the command forked must not write after the
// step is decided. The error then wraps ctx's cause. A command that ended on
// its own is judged by its exit code, even when ctx ended just after.
func runCommand(ctx context.Context, call steps.Call, a execArgs, argv []string, expect int) (steps.Result, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	if errors.Is(cmd.Err, exec.ErrNotFound) || errors.Is(cmd.Err, os.ErrNotExist) {
		return steps.Result{}, steps.Permanent(fmt.Errorf("command %q: %w", argv[0], cmd.Err))
	}
	if fi, err := os.Stat(a.dir); err != nil || !fi.IsDir() {
		return steps.Result{}, steps.Permanent(fmt.Errorf("%q: %s is not a directory", "dir", a.dir))
	}
	cmd.Dir = a.dir
	cmd.Env = append(os.Environ(), a.env...)
	// A session of its own is a process group of its own, which rebind can
	// stop as a whole. It has no controlling terminal: the terminal's Ctrl-C
	// reaches rebind alone, which decides how the command is stopped and
	// records it; and a command that opens the terminal fails at once,
	// where in a background process group of rebind's session it would be
	// stopped (SIGTTIN) until its timeout, or for ever.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// A command that ended on its own may leave a process holding its
	// output pipes; this is how long rebind waits for them.
	cmd.WaitDelay = execWaitDelay
	stdout, stderr := &cappedBuffer{max: execOutputCap}, &cappedBuffer{max: execOutputCap}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	shown := shownArgs(call, argv)
	if err := ctx.Err(); err != nil {
		return steps.Result{}, fmt.Errorf("%s not started: %w", shown, context.Cause(ctx))
	}
	logf(call, "%s: running %s", call.Address, shown)
	err := cmd.Start()
	if err == nil {
		group := stopGroupOnCancel(ctx, cmd.Process.Pid)
		err = cmd.Wait()
		if group.release() {
			err = errStopped
		}
	}
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
	case err == errStopped, err != nil && ctx.Err() != nil && killedBySignal(cmd.ProcessState):
		// Stopped by rebind, or killed by a signal as ctx ended (a
		// service manager stopping every process of the service at once):
		// either way, not a failure of the command's own.
		return res, fmt.Errorf("%s stopped: %w", shown, context.Cause(ctx))
	case err != nil && !errors.As(err, &exitErr):
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			cause := errors.Unwrap(err)
			if cause == nil {
				cause = err
			}
			return res, steps.Permanent(fmt.Errorf("command %s: %w", shown, cause))
		}
		return res, fmt.Errorf("%s: %w", shown, err)
	case code != expect:
		msg := fmt.Sprintf("%s exited with code %d, expected %d", shown, code, expect)
		switch tail := stderr.lastLines(execStderrLines); {
		case tail != "" && call.HasSecret:
			// The command was given a secret, and what it printed may
			// echo it: the output stays in the step's result, which is
			// kept as secret as the arguments.
			msg += "; its stderr is not shown, because the command was given a secret"
		case tail != "":
			msg += "; the last lines of stderr:\n" + tail
		}
		return res, errors.New(msg)
	}
	return res, nil
}

// shownArgs is argv as a log line or an error may show it: quoted, with
// every argument that holds a secret replaced (Call.Shown). argv is the
// command or the undo command of call.
func shownArgs(call steps.Call, argv []string) string {
	for _, name := range []string{"command", "undo"} {
		full, _ := steps.Strings(call.Config, name)
		if !slices.Equal(full, argv) {
			continue
		}
		v, ok := steps.Attr(call.Printable(), name)
		switch {
		case !ok:
		case v.Type() == cty.String:
			return v.AsString() // the whole list is a secret
		case v.CanIterateElements() && v.LengthInt() == len(argv):
			shown, _ := steps.Strings(call.Printable(), name)
			return quoteArgs(shown)
		}
	}
	if call.HasSecret {
		return steps.Redacted
	}
	return quoteArgs(argv)
}

// errStopped marks a command rebind stopped because its context ended.
var errStopped = errors.New("stopped")

// killedBySignal reports whether a command ended by a signal rather than by
// exiting.
func killedBySignal(ps *os.ProcessState) bool {
	if ps == nil {
		return false
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
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
