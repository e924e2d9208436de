package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/steps"
)

// throttledType ("test_throttled") answers its first world.fails[key]
// writes with a Retry-After, as a directory that throttles does (Graph
// answers 429 with a Retry-After header:
// https://learn.microsoft.com/graph/throttling).
type throttledType struct{ valueType }

func (throttledType) Info() steps.Info {
	i := valueType{}.Info()
	i.Name = "test_throttled"
	return i
}

func (throttledType) Apply(ctx context.Context, c steps.Call, ch steps.Change) (steps.Result, error) {
	k, _ := steps.String(c.Config, "key")
	theWorld.mu.Lock()
	if theWorld.fails[k] > 0 {
		theWorld.fails[k]--
		theWorld.mu.Unlock()
		return steps.Result{}, &steps.RetryAfterError{Err: fmt.Errorf("test: %s throttled (429)", k), After: time.Millisecond}
	}
	theWorld.mu.Unlock()
	v, _ := steps.String(c.Config, "value")
	theWorld.set(k, v)
	return steps.Result{Value: cty.ObjectVal(map[string]cty.Value{"written": cty.StringVal(v)})}, nil
}

func init() { steps.Register(throttledType{}) }

// eventLog keeps the events a run sends.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

// count counts the events of kind k for step, by outcome.
func (l *eventLog) count(k EventKind, step string) map[Outcome]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := map[Outcome]int{}
	for _, ev := range l.evs {
		if ev.Kind == k && ev.Step == step {
			n[ev.Outcome]++
		}
	}
	return n
}

const progressRunbook = header + `
step "test_value" "single" {
  key   = "single"
  value = "v"
}

step "test_value" "each" {
  for_each   = toset(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
  max_errors = 1
  key        = each.key
  value      = "v"
  fail       = each.key == "c"
}

step "test_throttled" "slow" {
  for_each = toset(["t1", "t2"])
  key      = each.key
  value    = "v"
  retry {
    attempts = 3
    backoff  = "1ms"
  }
}
`

// TestFanOutSendsEventsAndKeepsItsLinesQuiet checks what a person watching
// an apply sees: a step that is not a fan-out still prints its lines; the
// instances of a fan-out print none (the command line draws a progress line
// from the events instead), and every instance sends one InstanceDone with
// how it ended, throttling answers included; with Verbose, each instance's
// lines name the instance.
func TestFanOutSendsEventsAndKeepsItsLinesQuiet(t *testing.T) {
	h := newHarness(t)
	theWorld.fails["t1"] = 2
	var evs eventLog
	h.e.Events = evs.add
	rep := h.apply(progressRunbook, nil)
	if rep.Status != journal.StatusSucceeded {
		t.Fatalf("status %s: %+v\n%s", rep.Status, rep.Failures, h.log.String())
	}
	log := h.log.String()
	if !strings.Contains(log, "+ step.test_value.single (create)") || !strings.Contains(log, "step.test_value.single done in ") {
		t.Errorf("the single step's lines are missing:\n%s", log)
	}
	if strings.Contains(log, `step.test_value.each["`) || strings.Contains(log, `step.test_throttled.slow["`) {
		t.Errorf("fan-out instances printed lines without Verbose:\n%s", log)
	}
	started := 0
	for _, ev := range evs.evs {
		if ev.Kind == StepStarted && ev.Step == "step.test_value.each" {
			started++
			if ev.Total != 10 || !ev.FanOut || ev.Phase != "apply" {
				t.Errorf("StepStarted = %+v, want 10 instances of a fan-out", ev)
			}
		}
	}
	if started != 1 {
		t.Errorf("%d StepStarted events for the fan-out, want 1", started)
	}
	if got := evs.count(InstanceDone, "step.test_value.each"); got[OutcomeApplied] != 9 || got[OutcomeFailed] != 1 || len(got) != 2 {
		t.Errorf("fan-out outcomes %v, want 9 applied and 1 failed", got)
	}
	if got := evs.count(Throttled, "step.test_throttled.slow"); got[""] != 2 {
		t.Errorf("%d throttled events, want 2 (t1 answered 429 twice)", got[""])
	}
	if got := evs.count(StepFinished, "step.test_value.each"); got[""] != 1 {
		t.Errorf("%d StepFinished events, want 1", got[""])
	}
	last := evs.evs[len(evs.evs)-1]
	if last.Kind != StepFinished || last.Step != "step.test_throttled.slow" {
		t.Errorf("last event %+v, want the last step's StepFinished", last)
	}

	// Rolled back: one rollback group, an event per revert.
	evs.evs = nil
	if _, diags := h.e.Rollback(context.Background(), rep.RunID, Inputs{}); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got := evs.count(InstanceDone, "rollback"); got[OutcomeReverted] != 12 {
		t.Errorf("rollback outcomes %v, want 12 reverted (1 + 9 + 2)", got)
	}
	if strings.Contains(h.log.String(), `< step.test_value.each["`) {
		t.Errorf("rollback printed a line per fan-out instance without Verbose:\n%s", h.log.String())
	}
}

// TestVerboseLinesNameTheirInstance checks that with Verbose each
// instance's lines, the "done" line included, name the instance.
func TestVerboseLinesNameTheirInstance(t *testing.T) {
	h := newHarness(t)
	h.e.Verbose = true
	rep := h.apply(progressRunbook, nil)
	if rep.Status != journal.StatusSucceeded {
		t.Fatalf("status %s: %+v", rep.Status, rep.Failures)
	}
	log := h.log.String()
	for _, k := range []string{"a", "b", "d", "j"} {
		want := fmt.Sprintf(`step.test_value.each["%s"] done in `, k)
		if !strings.Contains(log, want) {
			t.Errorf("no line %q:\n%s", want, log)
		}
	}
	if !strings.Contains(log, `x step.test_value.each["c"]: `) {
		t.Errorf("the failed instance's line is missing:\n%s", log)
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "done in") && !strings.Contains(line, "step.") {
			t.Errorf("a done line names no instance: %q", line)
		}
	}
}
