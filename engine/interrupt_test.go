package engine

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/steps"
)

// stopType ("test_stop") is an action, not safe to repeat, that stands for
// one caught by an interrupt. By its `mode`:
//   - "block" runs until its context ends and returns the context's error,
//     as a command stopped mid-way does;
//   - "finish" interrupts the run, then returns success: the interrupt came
//     just after the action completed;
//   - "fail" interrupts the run, then fails on its own.
//
// stopping.interrupt is the run's cancel; stopping.started is closed when
// a "block" action starts.
type stopType struct{ alwaysRuns }

var stopping struct {
	sync.Mutex
	interrupt context.CancelCauseFunc
	started   chan struct{}
	// running reports whether the run has been created, after which a
	// stopRead blocks.
	running func() bool
}

// errSignal stands for the cause a signal gives the CLI's context.
var errSignal = fmt.Errorf("interrupt signal received: %w", context.Canceled)

func init() {
	steps.Register(stopType{})
	steps.RegisterData(stopRead{})
}

// stopRead ("test_stop_read") is a data source that, once the run is
// created, blocks until the run is interrupted: a read the interrupt
// catches before the first step.
type stopRead struct{}

func (stopRead) Info() steps.Info {
	return steps.Info{Name: "test_stop_read", Doc: "Test: a read caught by an interrupt.", Kind: steps.KindData,
		Schema: steps.Schema{"key": {Type: cty.String, Required: true}}}
}

func (stopRead) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	stopping.Lock()
	running, started := stopping.running, stopping.started
	stopping.Unlock()
	if running != nil && running() {
		close(started)
		<-ctx.Done()
		return steps.Observation{}, context.Cause(ctx)
	}
	return steps.Observation{Object: "read", Value: cty.EmptyObjectVal}, nil
}

func (stopType) Info() steps.Info {
	return steps.Info{Name: "test_stop", Doc: "Test: an action caught by an interrupt.", Kind: steps.KindAction,
		Schema:        steps.Schema{"key": {Type: cty.String, Required: true}, "mode": {Type: cty.String, Required: true}},
		Reversibility: steps.Irreversible, IrreversibleReason: "a run cannot be taken back"}
}

func (stopType) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	k, _ := steps.String(c.Config, "key")
	return steps.Observation{Object: "stop:" + k, Value: cty.EmptyObjectVal}, nil
}

func (stopType) Apply(ctx context.Context, c steps.Call, ch steps.Change) (steps.Result, error) {
	k, _ := steps.String(c.Config, "key")
	mode, _ := steps.String(c.Config, "mode")
	theWorld.mu.Lock()
	theWorld.runs[k]++
	theWorld.mu.Unlock()
	stopping.Lock()
	interrupt, started := stopping.interrupt, stopping.started
	stopping.Unlock()
	switch mode {
	case "block":
		if started != nil {
			close(started)
		}
		<-ctx.Done()
		return steps.Result{}, fmt.Errorf("test: %s stopped: %w", k, context.Cause(ctx))
	case "finish":
		interrupt(errSignal)
		return steps.Result{Value: cty.ObjectVal(map[string]cty.Value{"ran": cty.True})}, nil
	default:
		interrupt(errSignal)
		return steps.Result{}, steps.Permanent(fmt.Errorf("test: %s refused", k))
	}
}

// interruptible returns a context the test's stop actions interrupt, as a
// signal does the CLI's.
func interruptible(t *testing.T) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	stopping.Lock()
	stopping.interrupt, stopping.started, stopping.running = cancel, make(chan struct{}), nil
	started := stopping.started
	stopping.Unlock()
	go func() {
		select {
		case <-started:
			cancel(errSignal)
		case <-ctx.Done():
		}
	}()
	t.Cleanup(func() { cancel(nil) })
	return ctx
}

func stopRunbook(mode, timeout string) string {
	if timeout != "" {
		timeout = "\n  timeout = " + fmt.Sprintf("%q", timeout)
	}
	return header + `
step "test_value" "a" {
  key   = "a"
  value = "1"
}
step "test_stop" "act" {
  key  = "act"
  mode = "` + mode + `"` + timeout + `
}
step "test_value" "b" {
  key   = "b"
  value = "2"
}
`
}

// kindsOf lists the kinds of a run's records for step.
func (h *harness) kindsOf(runID, step string) []string {
	h.t.Helper()
	recs, err := h.e.Store.Records(context.Background(), runID)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Step == step {
			out = append(out, string(r.Kind))
		}
	}
	return out
}

// resumeToTheEnd resumes a run of stopRunbook with the decisions decide
// and fails unless it succeeds with the action run once in all and b
// written after it.
func (h *harness) resumeToTheEnd(runID string, decide map[string]string) {
	h.t.Helper()
	done, diags := h.e.Resume(context.Background(), runID, Inputs{}, ResumeOptions{Decide: decide})
	if diags.HasErrors() || done.Status != journal.StatusSucceeded {
		h.t.Fatalf("resume (decisions %v): %v %+v", decide, diags, done)
	}
	if n := theWorld.count(theWorld.runs, "act"); n != 1 || theWorld.get("b") != "2" {
		h.t.Errorf("after the resume (decisions %v): the action ran %d times, b = %q", decide, n, theWorld.get("b"))
	}
}

func (h *harness) applyCtx(ctx context.Context, src string) *Report {
	h.t.Helper()
	p := h.plan(src, nil)
	rep, diags := h.e.Apply(ctx, p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() {
		h.t.Fatalf("apply: %s\nlog:\n%s", diags.Error(), h.log.String())
	}
	return rep
}

// An action interrupted while it runs is in doubt, exactly as after a
// crash: its intent has neither outcome nor failure, the run says so and
// names it, and a resume asks a person instead of running it again.
func TestInterruptedActionIsInDoubt(t *testing.T) {
	h := newHarness(t)
	rep := h.applyCtx(interruptible(t), stopRunbook("block", ""))
	const act = "step.test_stop.act"
	if rep.Status != journal.StatusFailed || !reflect.DeepEqual(rep.InDoubt, []string{act}) || rep.Interrupted == "" {
		t.Fatalf("report: status %s, in doubt %v, interrupted %q; want failed, the action in doubt, interrupted\n%s", rep.Status, rep.InDoubt, rep.Interrupted, h.log.String())
	}
	if len(rep.Failures) != 0 {
		t.Errorf("failures %+v: an interrupt is not a failure", rep.Failures)
	}
	if got := h.kindsOf(rep.RunID, act); !reflect.DeepEqual(got, []string{"intent"}) {
		t.Errorf("journal of the action: %v, want only its intent", got)
	}
	run, _ := h.e.Store.Run(context.Background(), rep.RunID)
	if strings.Contains(run.Error, "flush") || !strings.Contains(run.Error, "interrupt") || !strings.Contains(run.Error, act) {
		t.Errorf("run status text %q: want it to say the run was interrupted, and what is in doubt", run.Error)
	}

	ctx := context.Background()
	again, diags := h.e.Resume(ctx, rep.RunID, Inputs{}, ResumeOptions{})
	if diags.HasErrors() || !reflect.DeepEqual(again.InDoubt, []string{act}) {
		t.Fatalf("resume: %v, in doubt %v", diags, again.InDoubt)
	}
	if n := theWorld.count(theWorld.runs, "act"); n != 1 {
		t.Fatalf("the action ran %d times; resume must not repeat it unasked", n)
	}
	h.resumeToTheEnd(rep.RunID, map[string]string{act: "done"})
}

// An interrupt that arrives just after the action returned does not lose
// its outcome: the action is done, and a resume goes on after it.
func TestInterruptAfterActionKeepsItsOutcome(t *testing.T) {
	h := newHarness(t)
	rep := h.applyCtx(interruptible(t), stopRunbook("finish", ""))
	const act = "step.test_stop.act"
	if rep.Status != journal.StatusFailed || len(rep.InDoubt) != 0 || rep.Interrupted == "" || len(rep.Failures) != 0 {
		t.Fatalf("report: status %s, in doubt %v, interrupted %q, failures %+v\n%s", rep.Status, rep.InDoubt, rep.Interrupted, rep.Failures, h.log.String())
	}
	if got := h.kindsOf(rep.RunID, act); !reflect.DeepEqual(got, []string{"intent", "outcome"}) {
		t.Errorf("journal of the action: %v, want its intent and outcome", got)
	}
	if theWorld.get("b") != "" {
		t.Errorf("the run went on after the interrupt: b = %q", theWorld.get("b"))
	}
	h.resumeToTheEnd(rep.RunID, nil)
}

// An action that fails on its own while the run is being interrupted is a
// failure, not in doubt: it did not do its work, and a resume runs it.
func TestActionFailingDuringInterruptIsAFailure(t *testing.T) {
	h := newHarness(t)
	rep := h.applyCtx(interruptible(t), stopRunbook("fail", ""))
	const act = "step.test_stop.act"
	if rep.Status != journal.StatusFailed || len(rep.InDoubt) != 0 || len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0].Err, "refused") {
		t.Fatalf("report: status %s, in doubt %v, failures %+v\n%s", rep.Status, rep.InDoubt, rep.Failures, h.log.String())
	}
	if got := h.kindsOf(rep.RunID, act); !reflect.DeepEqual(got, []string{"intent", "failure"}) {
		t.Errorf("journal of the action: %v, want its intent and its failure", got)
	}
	if theWorld.get("a") != "1" {
		t.Errorf("an interrupted run rolled back: a = %q", theWorld.get("a"))
	}
}

// A step's own timeout is a failure of the step, not an interrupt: the run
// goes on to roll back as for any failure.
func TestTimedOutActionIsAFailure(t *testing.T) {
	h := newHarness(t)
	rep := h.applyCtx(context.Background(), stopRunbook("block", "50ms"))
	const act = "step.test_stop.act"
	if rep.Interrupted != "" || len(rep.InDoubt) != 0 || len(rep.Failures) != 1 || rep.Failures[0].Address != act {
		t.Fatalf("report: interrupted %q, in doubt %v, failures %+v\n%s", rep.Interrupted, rep.InDoubt, rep.Failures, h.log.String())
	}
	if got := h.kindsOf(rep.RunID, act); !reflect.DeepEqual(got, []string{"intent", "failure"}) {
		t.Errorf("journal of the action: %v, want its intent and its failure", got)
	}
	if rep.Status != journal.StatusRolledBack || theWorld.get("a") != "" {
		t.Errorf("status %s, a = %q: a timeout rolls back like any failure", rep.Status, theWorld.get("a"))
	}
}

// An interrupt once the run has started, while it records its data blocks
// (read by its drift check, runData) before the first step, says so rather
// than reporting a failure.
func TestInterruptBeforeFirstStep(t *testing.T) {
	h := newHarness(t)
	ctx := interruptible(t)
	h.e.Log = signalOnLog(&h.log, " started (")
	rep := h.applyCtx(ctx, header+`
data "test_stop_read" "r" {
  key = "r"
}
step "test_value" "a" {
  key   = "a"
  value = "1"
}
`)
	if rep.Status != journal.StatusFailed || rep.Interrupted == "" || len(rep.Failures) != 0 {
		t.Fatalf("report: status %s, interrupted %q, failures %+v\n%s", rep.Status, rep.Interrupted, rep.Failures, h.log.String())
	}
	run, _ := h.e.Store.Run(context.Background(), rep.RunID)
	if !strings.Contains(run.Error, "interrupted before the first step") {
		t.Errorf("run status text %q", run.Error)
	}
	if theWorld.get("a") != "" {
		t.Errorf("a step ran after the interrupt")
	}
}
