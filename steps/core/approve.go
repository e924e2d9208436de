package core

import (
	"context"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// Approve is the `approve` step type: a gate in the middle of a run. When no
// person has recorded a go-ahead for the step, Apply pauses the run (an
// error wrapping steps.ErrPaused) with the commands that record one and
// resume; once recorded, the step passes. A plan-time approval of the whole
// plan does not count: the gate is for a look at the world as the run has
// left it so far (is the user bound, is the mailbox back?).
//
// Observe asks the run whether the step is approved, so a resumed run that
// finds the go-ahead sees a NoOp.
type Approve struct{}

var _ steps.Reverter = Approve{}

func init() { steps.Register(Approve{}) }

// Info describes the approve step type.
func (Approve) Info() steps.Info {
	return steps.Info{
		Name: "approve",
		Doc:  "Pauses the run until a person records a go-ahead for this step.",
		Kind: steps.KindAction,
		Schema: steps.Schema{
			"message": {Type: cty.String, Required: true,
				Doc: "What the person should check before giving the go-ahead."},
		},
		Reversibility: steps.Reversible,
		RepeatSafe:    true,
	}
}

// Observe reports whether the step has a go-ahead, and from whom.
func (Approve) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	ok, by, err := stepApproval(ctx, call)
	if err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{
		Object: "approve:" + call.Address,
		Value: cty.ObjectVal(map[string]cty.Value{
			"approved": cty.BoolVal(ok),
			"by":       cty.StringVal(by),
		}),
	}, nil
}

// Diff returns NoOp once approved, else Run.
func (Approve) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	if ok, _ := steps.Bool(obs.Value, "approved"); ok {
		return steps.Change{Action: steps.NoOp}, nil
	}
	msg, _ := steps.String(call.Config, "message")
	return steps.Change{Action: steps.Run, After: cty.ObjectVal(map[string]cty.Value{
		"message": cty.StringVal(msg),
	})}, nil
}

// Apply passes when the step has a go-ahead (asked again, not taken from the
// plan) and otherwise pauses the run.
func (Approve) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	ok, by, err := stepApproval(ctx, call)
	if err != nil {
		return steps.Result{}, err
	}
	if !ok {
		msg, _ := steps.String(call.Config, "message")
		return steps.Result{}, &pausedError{run: call.Run.ID(), address: call.Address, message: msg}
	}
	logf(call, "%s: approved by %s", call.Address, by)
	return steps.Result{Value: cty.ObjectVal(map[string]cty.Value{
		"approved": cty.True,
		"by":       cty.StringVal(by),
	})}, nil
}

// Revert does nothing: a go-ahead changed nothing.
func (Approve) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	return nil
}

func stepApproval(ctx context.Context, call steps.Call) (bool, string, error) {
	if call.Run == nil {
		return false, "", fmt.Errorf("core: approve: %s: no run to ask for a go-ahead", call.Address)
	}
	ok, by, err := call.Run.StepApproval(ctx, call.Address)
	if err != nil {
		return false, "", fmt.Errorf("core: approve: %s: read the go-ahead: %w", call.Address, err)
	}
	return ok, by, nil
}

// pausedError is the error of an approve step waiting for a person. It
// wraps steps.ErrPaused without appending that sentinel's text, so the
// person reads only what to do.
type pausedError struct {
	run, address, message string
}

func (e *pausedError) Error() string {
	addr := shellQuote(e.address)
	msg := strings.TrimRight(strings.TrimSpace(e.message), ".")
	return fmt.Sprintf("core: approve: the run %s is paused at %s: %s. Record a go-ahead with `rebind approve-step %s %s`, then `rebind resume %s`",
		e.run, e.address, msg, e.run, addr, e.run)
}

// Unwrap returns steps.ErrPaused.
func (e *pausedError) Unwrap() error { return steps.ErrPaused }

// shellQuote quotes s for a POSIX shell when it holds anything but plain
// address characters, as a fan-out address (`step.approve.x["key"]`) does,
// so the printed command can be pasted as is.
func shellQuote(s string) string {
	plain := strings.IndexFunc(s, func(r rune) bool {
		return !(r == '.' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
	if plain && s != "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
