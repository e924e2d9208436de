package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// waitDefaultInterval is how often `until` is evaluated again when the step
// gives no `interval`.
const waitDefaultInterval = 10 * time.Second

// Wait is the `wait` step type: it pauses the run for a fixed `duration`, or
// until a condition (`until`) becomes true, evaluating it again every
// `interval` (10s by default). Exactly one of duration and until is given.
//
// With until, Apply asks the engine to re-read the data blocks the
// condition refers to and evaluate it again (Call.Refresh) between polls;
// the step's `timeout`, which the engine requires with until (TimeoutWith),
// bounds the wait, and running out of it is an error that says so. Diff returns NoOp when until is already true. Waiting
// changes nothing, so it is safe to repeat and there is nothing to revert.
type Wait struct{}

var _ steps.Reverter = Wait{}

func init() { steps.Register(Wait{}) }

// Info describes the wait step type.
func (Wait) Info() steps.Info {
	return steps.Info{
		Name: "wait",
		Doc:  "Pauses the run for a duration, or until a condition is true.",
		Kind: steps.KindAction,
		Schema: steps.Schema{
			"duration": {Type: cty.String,
				Doc: "How long to wait, such as \"30s\", \"2m\", \"1h\" or \"1d\"; not with until."},
			"until": {Type: cty.Bool,
				Doc: "A condition to wait for, evaluated again every interval; not with duration. The step must then set timeout."},
			"interval": {Type: cty.String,
				Doc: "How often until is evaluated again (default \"10s\")."},
		},
		Reversibility: steps.Reversible,
		RepeatSafe:    true,
		TimeoutWith:   []string{"until"},
	}
}

// waitArgs is a decoded wait block: a duration, or a poll interval for
// until.
type waitArgs struct {
	duration time.Duration
	until    bool // whether the step waits for a condition
	interval time.Duration
}

func decodeWait(call steps.Call) (waitArgs, error) {
	fail := func(err error) (waitArgs, error) {
		return waitArgs{}, fmt.Errorf("core: wait: %s: %w", call.Address, err)
	}
	ds, hasDuration := steps.String(call.Config, "duration")
	hasUntil := !call.Config.GetAttr("until").IsNull()
	is, hasInterval := steps.String(call.Config, "interval")
	switch {
	case hasDuration && hasUntil:
		return fail(errors.New(`give "duration" or "until", not both`))
	case !hasDuration && !hasUntil:
		return fail(errors.New(`one of "duration" or "until" is required`))
	case hasDuration && hasInterval:
		return fail(errors.New(`"interval" applies only with "until"`))
	}
	if hasDuration {
		d, err := parseDuration("duration", ds)
		if err != nil {
			return fail(err)
		}
		return waitArgs{duration: d}, nil
	}
	a := waitArgs{until: true, interval: waitDefaultInterval}
	if hasInterval {
		d, err := parseDuration("interval", is)
		if err != nil {
			return fail(err)
		}
		if d <= 0 {
			return fail(fmt.Errorf(`"interval" must be positive, got %q`, is))
		}
		a.interval = d
	}
	return a, nil
}

// Observe checks the arguments; a wait has no state to read.
func (Wait) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	return observeNothing(call, "wait", decodeWait)
}

// Diff returns Run, or NoOp when until is already true.
func (Wait) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	a, err := decodeWait(call)
	if err != nil {
		return steps.Change{}, err
	}
	if !a.until {
		return steps.Change{Action: steps.Run, After: cty.ObjectVal(map[string]cty.Value{
			"duration": call.Config.GetAttr("duration"),
		})}, nil
	}
	done, err := untilValue(call.Address, call.Config)
	if err != nil {
		return steps.Change{}, err
	}
	if done {
		return steps.Change{Action: steps.NoOp}, nil
	}
	return steps.Change{Action: steps.Run, After: cty.ObjectVal(map[string]cty.Value{
		"until":    cty.False,
		"interval": cty.StringVal(a.interval.String()),
	})}, nil
}

// Apply sleeps for the duration, or polls until the condition is true. Both
// end early, with an error, when ctx does (cancellation or the step's
// timeout).
func (Wait) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	a, err := decodeWait(call)
	if err != nil {
		return steps.Result{}, err
	}
	start := time.Now()
	if !a.until {
		logf(call, "%s: waiting %s", call.Address, a.duration)
		if err := sleepCall(ctx, call, a.duration); err != nil {
			return steps.Result{}, fmt.Errorf("core: wait: %s: stopped after %s of %s: %w",
				call.Address, time.Since(start).Round(time.Second), a.duration, err)
		}
		return steps.Result{}, nil
	}

	cfg := call.Config
	for polls := 1; ; polls++ {
		done, err := untilValue(call.Address, cfg)
		if err != nil {
			return steps.Result{}, err
		}
		if done {
			logf(call, "%s: condition true after %s", call.Address, time.Since(start).Round(time.Second))
			return steps.Result{}, nil
		}
		if polls == 1 {
			logf(call, "%s: waiting until the condition is true, checking every %s", call.Address, a.interval)
		}
		if call.Refresh == nil {
			return steps.Result{}, fmt.Errorf("core: wait: %s: the condition is false and the engine gave no way to evaluate it again", call.Address)
		}
		if err := sleepCall(ctx, call, a.interval); err != nil {
			return steps.Result{}, waitStopped(call.Address, start, polls, err)
		}
		cfg, err = call.Refresh(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return steps.Result{}, waitStopped(call.Address, start, polls, ctx.Err())
			}
			return steps.Result{}, fmt.Errorf("core: wait: %s: evaluate %q again: %w", call.Address, "until", err)
		}
	}
}

// sleepCall waits with the engine's clock when it gives one (a rehearsal
// against the lab passes virtual time), else in real time.
func sleepCall(ctx context.Context, call steps.Call, d time.Duration) error {
	if call.Sleep != nil {
		return call.Sleep(ctx, d)
	}
	return sleep(ctx, d)
}

// Revert does nothing: waiting changed nothing.
func (Wait) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	return nil
}

func untilValue(address string, cfg cty.Value) (bool, error) {
	v := cfg.GetAttr("until")
	if !v.IsKnown() || v.IsNull() {
		return false, fmt.Errorf("core: wait: %s: %q evaluated to an unknown or null value", address, "until")
	}
	v, _ = v.Unmark()
	return v.True(), nil
}

func waitStopped(address string, start time.Time, polls int, err error) error {
	why := "was cancelled"
	if errors.Is(err, context.DeadlineExceeded) {
		why = "ran out of time (the step's timeout)"
	}
	return fmt.Errorf("core: wait: %s: %s: %q was still false after %s and %d checks: %w",
		address, why, "until", time.Since(start).Round(time.Second), polls, err)
}
