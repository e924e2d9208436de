package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// Assert is the `assert` step type: a check between two steps that stops the
// run when its condition is false. It never writes.
//
// Diff returns NoOp when the condition is true and, when it is false, a
// permanent error whose text is the error_message (retrying cannot make a
// false condition true; a `wait` with `until` is the step for that). The
// engine does not call it while the condition is unknown at plan time.
// Apply checks again, since the values may have changed since the plan.
type Assert struct{}

var _ steps.Reverter = Assert{}

func init() { steps.Register(Assert{}) }

// Info describes the assert step type.
func (Assert) Info() steps.Info {
	return steps.Info{
		Name: "assert",
		Doc:  "Stops the run with error_message when condition is false; it never writes.",
		Kind: steps.KindEnsure,
		Schema: steps.Schema{
			"condition": {Type: cty.Bool, Required: true,
				Doc: "The condition that must hold for the run to go on."},
			"error_message": {Type: cty.String, Required: true,
				Doc: "What the run reports when the condition is false: say what is wrong and what to do."},
		},
		Reversibility: steps.Reversible,
		RepeatSafe:    true,
	}
}

// Observe checks that the condition is set. Its value is empty on purpose:
// the condition may rightly change between plan and apply, and that must
// reach the person as the assert's error_message, not as drift.
func (Assert) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	if _, err := assertCondition(call); err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{Object: "assert:" + call.Address, Value: cty.EmptyObjectVal}, nil
}

// Diff returns NoOp when the condition holds and a permanent error with the
// error_message when it does not.
func (Assert) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	if err := assertHolds(call); err != nil {
		return steps.Change{}, err
	}
	return steps.Change{Action: steps.NoOp}, nil
}

// Apply checks the condition again and fails as Diff does.
func (Assert) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	return steps.Result{}, assertHolds(call)
}

// Revert does nothing: an assert changed nothing.
func (Assert) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	return nil
}

func assertCondition(call steps.Call) (bool, error) {
	ok, set := steps.Bool(call.Config, "condition")
	if !set {
		return false, fmt.Errorf("core: assert: %s: %q must not be null", call.Address, "condition")
	}
	return ok, nil
}

func assertHolds(call steps.Call) error {
	ok, err := assertCondition(call)
	if err != nil || ok {
		return err
	}
	// The message as it may be shown: one built from a secret is not.
	msg, _ := steps.String(call.Printable(), "error_message")
	switch {
	case msg == steps.Redacted:
		msg = fmt.Sprintf("the assertion %s is false; its error message refers to sensitive values, so it is not shown", call.Address)
	case msg == "":
		msg = fmt.Sprintf("the assertion %s is false", call.Address)
	}
	return steps.Permanent(errors.New(msg))
}
