package core

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func TestWaitArgumentErrors(t *testing.T) {
	cases := []struct {
		name string
		args map[string]cty.Value
		want string
	}{
		{"both", map[string]cty.Value{"duration": str("1s"), "until": cty.True}, `"duration" or "until", not both`},
		{"neither", map[string]cty.Value{}, `one of "duration" or "until"`},
		{"bad duration", map[string]cty.Value{"duration": str("soon")}, `"duration": bad duration "soon"`},
		{"negative", map[string]cty.Value{"duration": str("-1s")}, `"duration"`},
		{"interval without until", map[string]cty.Value{"duration": str("1s"), "interval": str("1s")}, `"interval"`},
		{"zero interval", map[string]cty.Value{"until": cty.False, "interval": str("0s")}, `"interval"`},
	}
	for _, c := range cases {
		call := newCall(t, Wait{}, "step.wait.x", nil, c.args)
		_, err := (Wait{}).Observe(context.Background(), call)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "core: wait: step.wait.x: ") {
			t.Errorf("%s: err = %v, want one containing %s", c.name, err, c.want)
		}
	}
}

func TestParseDurationDays(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "2m": 2 * time.Minute, "1d": 24 * time.Hour, "1d12h": 36 * time.Hour,
	} {
		got, err := parseDuration("duration", in)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"d", "1d-1h", "1x", ""} {
		if _, err := parseDuration("duration", in); err == nil {
			t.Errorf("parseDuration(%q) succeeded", in)
		}
	}
}

func TestWaitDuration(t *testing.T) {
	call := newCall(t, Wait{}, "step.wait.settle", nil, map[string]cty.Value{"duration": str("20ms")})
	obs, ch := plan(t, Wait{}, call)
	if obs.Object != "wait:step.wait.settle" || ch.Action != steps.Run {
		t.Errorf("Object %q, Action %s", obs.Object, ch.Action)
	}
	start := time.Now()
	if _, err := (Wait{}).Apply(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("waited %v, want 20ms", d)
	}

	long := newCall(t, Wait{}, "step.wait.long", nil, map[string]cty.Value{"duration": str("1h")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (Wait{}).Apply(ctx, long, ch)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: err = %v", err)
	}
}

func TestWaitUntilPollsRefresh(t *testing.T) {
	call := newCall(t, Wait{}, "step.wait.bound", nil, map[string]cty.Value{
		"until": cty.False, "interval": str("5ms"),
	})
	_, ch := plan(t, Wait{}, call)
	if ch.Action != steps.Run {
		t.Fatalf("Action = %s, want run", ch.Action)
	}
	refreshes := 0
	call.Refresh = func(ctx context.Context) (cty.Value, error) {
		refreshes++
		return cty.ObjectVal(map[string]cty.Value{
			"until":    cty.BoolVal(refreshes == 3),
			"interval": str("5ms"),
			"duration": cty.NullVal(cty.String),
		}), nil
	}
	if _, err := (Wait{}).Apply(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if refreshes != 3 {
		t.Errorf("refreshed %d times, want 3", refreshes)
	}

	done := newCall(t, Wait{}, "step.wait.bound", nil, map[string]cty.Value{"until": cty.True})
	if _, ch := plan(t, Wait{}, done); ch.Action != steps.NoOp {
		t.Errorf("until already true: Action = %s, want no-op", ch.Action)
	}
}

func TestWaitUntilTimesOut(t *testing.T) {
	call := newCall(t, Wait{}, "step.wait.bound", nil, map[string]cty.Value{
		"until": cty.False, "interval": str("5ms"),
	})
	call.Refresh = func(ctx context.Context) (cty.Value, error) { return call.Config, nil }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := (Wait{}).Apply(ctx, call, steps.Change{Action: steps.Run})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("err = %v, want a timeout error", err)
	}

	refreshErr := errors.New("graph: 503")
	call.Refresh = func(ctx context.Context) (cty.Value, error) { return cty.NilVal, refreshErr }
	_, err = (Wait{}).Apply(context.Background(), call, steps.Change{Action: steps.Run})
	if !errors.Is(err, refreshErr) {
		t.Errorf("refresh failure: err = %v", err)
	}
}

// A wait uses the engine's clock when the engine gives one: against the
// lab, 72 hours pass in virtual time, not in real time.
func TestWaitUsesTheEnginesClock(t *testing.T) {
	call := newCall(t, Wait{}, "step.wait.window", nil, map[string]cty.Value{"duration": str("72h")})
	var slept []time.Duration
	call.Sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	}
	_, ch := plan(t, Wait{}, call)
	start := time.Now()
	if _, err := (Wait{}).Apply(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if len(slept) != 1 || slept[0] != 72*time.Hour || time.Since(start) > time.Second {
		t.Fatalf("slept %v through the engine's clock in %s; want one 72h sleep at once", slept, time.Since(start))
	}
}
