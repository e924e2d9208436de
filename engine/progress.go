package engine

import (
	"strings"
	"time"
)

// EventKind says what an Event reports.
type EventKind string

// The event kinds, in the order a step sends them: StepStarted, then one
// InstanceDone per instance (and Throttled whenever a directory throttled
// one of them), then StepFinished.
const (
	// StepStarted: the step's instances are about to run (Total of them).
	StepStarted EventKind = "step-started"
	// InstanceDone: one instance ended, as Outcome says.
	InstanceDone EventKind = "instance-done"
	// Throttled: a directory answered an instance with a Retry-After
	// (steps.RetryAfterError: HTTP 429, 503 or 504, a Connect server busy
	// with a cycle). Wait is how long it asked for. Graph "returns HTTP
	// status code 429 Too Many Requests" with "a suggested wait time in the
	// response header" when it throttles
	// (https://learn.microsoft.com/graph/throttling); what the Graph SDK's
	// retry handler or a $batch resend absorbs inside a step never reaches
	// the engine and is not counted.
	Throttled EventKind = "throttled"
	// StepFinished: every instance that was started has ended.
	StepFinished EventKind = "step-finished"
)

// Outcome is how an instance ended, in an InstanceDone event.
type Outcome string

// The outcomes.
const (
	OutcomeApplied     Outcome = "applied"     // written
	OutcomeUnchanged   Outcome = "unchanged"   // already so (or read, or awaited)
	OutcomeDoneBefore  Outcome = "done-before" // done by the run before it stopped: not touched
	OutcomeFailed      Outcome = "failed"
	OutcomeInDoubt     Outcome = "in-doubt"    // stopped; a person must say whether it ran
	OutcomeInterrupted Outcome = "interrupted" // the run was stopped from outside
	OutcomePaused      Outcome = "paused"      // waits for an approval
	OutcomeReverted    Outcome = "reverted"    // rollback reverted it
	OutcomeNotReverted Outcome = "not-reverted"
)

// Event is something a run did that a person watching it wants to count:
// what the command line draws its progress from. Events of a fan-out's
// instances come from many goroutines at once.
type Event struct {
	Kind EventKind
	// Phase is "apply" (apply and resume) or "rollback".
	Phase string
	// Step is the step's address (step.TYPE.NAME), or "rollback" for the
	// reverts of a rollback, which go newest first across steps.
	Step string
	// Instance is the instance's address, with its fan-out key.
	Instance string
	// Total is how many instances the step has (StepStarted).
	Total int
	// FanOut is set when the step has for_each (StepStarted); for a
	// rollback, when it reverts instances of a fan-out.
	FanOut  bool
	Outcome Outcome
	// Wait is the Retry-After of a Throttled event.
	Wait time.Duration
	Time time.Time
}

// emit hands ev to the engine's Events, if any.
func (s *session) emit(ev Event) {
	if s.e.Events == nil {
		return
	}
	if ev.Phase == "" {
		ev.Phase = "apply"
	}
	ev.Time = s.e.now()
	s.e.Events(ev)
}

// quiet reports whether the per-instance lines of an instance at addr are
// left out of the log: an instance of a fan-out (its address has a key)
// prints its lines only when the engine is Verbose. The events count it
// instead, and the report at the end names every failure.
func (s *session) quiet(addr string) bool {
	return !s.e.Verbose && strings.HasSuffix(addr, "]") && strings.Contains(addr, "[")
}

// instLogf writes a per-instance progress line (see quiet).
func (s *session) instLogf(addr, format string, args ...any) {
	if s.quiet(addr) {
		return
	}
	s.logf(format, args...)
}
