// Package steps defines the contract between the rebind engine and the step
// types it runs, and the registry in which step types and target types are
// found by name.
//
// A step type is a plug-in: it declares what its HCL block may contain (its
// Schema), what it needs from the directories (Permissions), what kind of work
// it does (Kind) and whether that work can be undone (Reversibility). The engine
// decodes the block against the schema and hands the step only typed cty values
// (a Call); step code never sees HCL.
//
// A data source (a `data` block's type, DataSource) is Info and Observe: it
// reads and never writes. A step type (Type) is a data source that can also
// change what it observes. Most step types are desired state ("ensure"):
// Observe reads the object, Diff computes before -> after (a NoOp when the
// object is already so), and Apply makes it so, safely when repeated. That
// gives the engine an idempotent apply, a plan that shows before -> after, a
// probe for resume and a before-value for rollback. Action types (purge, start
// a sync cycle) cannot be observed as state; they declare whether they are
// safe to repeat.
//
// Optional capabilities are discovered by type assertion, as database/sql/driver
// does: a Type that also implements Reverter can be rolled back; one that does
// not is reported as not reverted, never silently skipped. A data source or
// step type that implements BulkObserver observes a fan-out's objects in a few
// requests.
package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Kind says what a step type does to the world.
type Kind int

const (
	// KindData reads and never writes: the kind of every DataSource, and of
	// no Type. Data blocks are observed at plan and re-checked at apply.
	KindData Kind = iota + 1
	// KindEnsure drives an object to a desired state; Apply is idempotent.
	KindEnsure
	// KindAction performs an operation whose effect cannot be read back as
	// state (a purge, a sync cycle). Info.RepeatSafe says whether it may run
	// twice.
	KindAction
)

// String returns the name used in plans and the journal.
func (k Kind) String() string {
	return enumName(k, "Kind", "data", "ensure", "action")
}

// Reversibility says whether a completed step can be undone.
type Reversibility int

const (
	// Reversible steps restore the recorded before-value exactly.
	Reversible Reversibility = iota + 1
	// Compensable steps can be undone by a different operation that leaves an
	// equivalent, not identical, state (a restored object gets a new id).
	Compensable
	// Irreversible steps cannot be undone (a purge, a tenant sync switch inside
	// its 72-hour window). The plan calls them out.
	Irreversible
)

// String returns the name used in plans and the journal.
func (r Reversibility) String() string {
	return enumName(r, "Reversibility", "reversible", "compensable", "irreversible")
}

// enumName is the name of v, an enumeration of type typ whose values
// count from 1 in the order of names, or typ(v) for a value out of range.
func enumName[E ~int](v E, typ string, names ...string) string {
	if v < 1 || int(v) > len(names) {
		return fmt.Sprintf("%s(%d)", typ, int(v))
	}
	return names[v-1]
}

// Attribute describes one argument of a step (or target) block.
type Attribute struct {
	// Type is the cty type the value is converted to; cty.DynamicPseudoType
	// accepts any value unchanged.
	Type cty.Type
	// Required attributes must be present (they may still be null when
	// Nullable is set, which is how "clear this value" is written).
	Required bool
	// Nullable allows an explicit null, e.g. `immutable_id = null`.
	Nullable bool
	// Sensitive values are never written to a plan, the journal or a log.
	Sensitive bool
	// PII values (UPNs, addresses) are masked by --redact renderings.
	PII bool
	// Reflects names the attributes of the step's observation, change
	// and result that hold this argument's value, or something computed
	// from it (a file's content and its SHA-256). When the argument
	// holds a secret (it is Sensitive, or its value derives from a
	// sensitive variable), the engine treats those attributes as secrets
	// too: never in a plan, the journal, a log or an error. An attribute
	// with the argument's own name is always included, so a step need
	// only list the others. This is how an old secret the step observes
	// (the password a rotation replaces) stays hidden although no input
	// holds it.
	Reflects []string
	// Doc is one sentence for `rebind runbooks show` and error messages.
	Doc string
}

// Schema is the set of arguments a block accepts, by name.
type Schema map[string]Attribute

// Info describes a data source or a step type.
type Info struct {
	// Name is the block label, e.g. "file" or "entra_user_restored".
	Name string
	// Doc is a short paragraph shown by `rebind steps` and in plans.
	Doc string
	// Kind is KindData for a DataSource, KindEnsure or KindAction for a
	// step type (Type).
	Kind Kind
	// Target is the target type this step needs ("entra", "ad", "exo",
	// "adsync"), or "" when it needs none.
	Target string
	// Schema lists the block's arguments. The engine's own meta-arguments
	// (target, for_each, depends_on, retry, timeout, on_failure, await,
	// max_concurrency, max_errors, precondition, postcondition) must not appear.
	Schema Schema
	// Reversibility is declared per type; ensure types that implement
	// Reverter are normally Reversible.
	Reversibility Reversibility
	// IrreversibleReason explains an Irreversible or Compensable type in plans.
	IrreversibleReason string
	// RepeatSafe is meaningful for actions: whether an action that was in
	// doubt at a crash may simply run again. Ensure types are always
	// repeat-safe because Apply is idempotent.
	RepeatSafe bool
	// Permissions lists what the step needs from the directories, e.g.
	// "Graph: User.ReadWrite.All" or "Exchange: Mail Recipients".
	// `rebind plan` lists the union.
	Permissions []string
	// TimeoutWith names arguments that make the step wait on something
	// outside rebind (wait's `until`): a step that sets one must also set
	// the engine's `timeout`, so that a condition that never holds cannot
	// hold the run forever (against the lab, where waiting passes virtual
	// time, it would poll without pause).
	TimeoutWith []string
}

// Action is what a Change will do.
type Action string

const (
	// NoOp: the object is already as desired; nothing is written.
	NoOp Action = "no-op"
	// Create: a new object (or a restored one) will exist.
	Create Action = "create"
	// Update: attributes of an existing object change.
	Update Action = "update"
	// Delete: an object will be removed.
	Delete Action = "delete"
	// Run: an action step will run.
	Run Action = "run"
	// Read: a data block reads; it never writes.
	Read Action = "read"
)

// Call carries one invocation of a step: its decoded arguments and the
// opened target.
type Call struct {
	// Address is the step's address, e.g. `step.entra_immutable_id.clear`,
	// with `["key"]` appended for a fan-out instance.
	Address string
	// Key is the fan-out key, "" when the step is not fanned out.
	Key string
	// Config is an object value holding every attribute of the step's
	// Schema (absent optional attributes are null). At plan time it may
	// contain unknown values; the engine does not call Observe while an
	// attribute the step needs is unknown (see Info.Schema).
	Config cty.Value
	// Target is the opened target client (what TargetType.Open returned), or
	// nil when Info.Target is "".
	Target any
	// Run gives access to the surrounding run: its id, its directory, and
	// the mid-run approvals recorded for it.
	Run RunContext
	// Log receives human-readable progress lines (no secrets).
	Log io.Writer
	// Sleep waits d or until ctx ends. Steps that wait (wait's duration and
	// polls) use it rather than sleeping themselves, so that a rehearsal
	// against the lab passes the lab's virtual time. Nil means real time.
	Sleep func(ctx context.Context, d time.Duration) error
	// Shown is Config as a step may print it, in a log line or an error:
	// every value that holds a secret is replaced by the string Redacted
	// (a list holding one becomes a tuple). Steps build what they print
	// from Shown, never from Config.
	Shown cty.Value
	// HasSecret is set when an argument holds a secret. Output a step
	// gets from outside (a command's stderr) may then echo it, so the step
	// keeps such output out of its errors and log lines.
	HasSecret bool
	// Refresh re-reads the data blocks this step's arguments refer to and
	// evaluates the arguments again, returning a fresh Config. Steps that
	// wait for a condition (wait's `until`) call it between polls. It is nil
	// at plan time.
	Refresh func(ctx context.Context) (cty.Value, error)
}

// Redacted is what stands for a secret in Call.Shown, plans and logs.
const Redacted = "(sensitive)"

// Printable is Shown, or Config when the caller set no Shown (a test that
// calls a step type directly, with no secrets).
func (c Call) Printable() cty.Value {
	if c.Shown == cty.NilVal {
		return c.Config
	}
	return c.Shown
}

// RepeatSafety is implemented by action types whose repeat-safety depends on
// their arguments (exec with `repeat_safe = true`). Without it,
// Info().RepeatSafe decides.
type RepeatSafety interface {
	RepeatSafeCall(call Call) bool
}

// CallReversibility is implemented by step types whose reversibility depends
// on their arguments (exec is compensable with an `undo` command and
// irreversible without one). Without it, Info().Reversibility decides.
type CallReversibility interface {
	ReversibilityOf(call Call) Reversibility
}

// MayBeIrreversible reports whether some call of t cannot be undone: the
// type says so, or it decides per call. An instance whose arguments are
// not known at plan time counts as irreversible when its type may be, so
// that the approvals a plan asks for are never fewer than apply needs.
func MayBeIrreversible(t Type) bool {
	if _, ok := t.(CallReversibility); ok {
		return true
	}
	return t.Info().Reversibility == Irreversible
}

// RunContext is what a step may know of the run it is part of.
type RunContext interface {
	// ID is the run's id ("" at plan time).
	ID() string
	// Dir is the directory relative paths in step arguments resolve from:
	// the working directory the run was started in (kept in the journal, so
	// a resume from elsewhere writes to the same places).
	Dir() string
	// StepApproval reports whether a person has recorded a go-ahead for the
	// step at address (with `rebind approve-step RUN STEP`), and who.
	StepApproval(ctx context.Context, address string) (approved bool, by string, err error)
}

// Observation is what a step saw of the world. It is shown in plans,
// fingerprinted for drift detection, and reachable from conditions as
// `self.observed`.
type Observation struct {
	// Object names the thing observed, stably: "file:/etc/x",
	// "entra:user:alice@contoso.com". The engine locks on it so that two
	// runs cannot work the same object at once.
	Object string
	// Value is an object value; for data steps it is the data block's value.
	// It must be wholly known and must not contain secrets.
	Value cty.Value
}

// Change is before -> after for one step instance.
type Change struct {
	Action Action
	// Before holds the attributes the step will change, as they are now (an
	// object value, or null when the object does not exist). Rollback hands
	// it back to Reverter.Revert.
	Before cty.Value
	// After holds the same attributes as they will be (object or null).
	After cty.Value
	// Private is step-owned data that Apply and Revert need and that the
	// journal keeps with the change (e.g. the object's id). Never secrets.
	Private []byte
}

// Result is what Apply returns: values later steps can reference as
// `step.TYPE.NAME.result`.
type Result struct {
	// Value is an object value, or cty.NilVal / null when there is nothing.
	Value cty.Value
	// Change is the change as it was actually made, when it differs from the
	// planned one (e.g. the id of a restored object); the journal records it
	// for rollback. Zero means "as planned".
	Change *Change
}

// DataSource is the type of a data block: it reads and never writes (its
// Info().Kind is KindData). The engine observes a data block at plan, puts
// the observation's Value in scope as `data.TYPE.NAME`, and reads it again at
// apply. Implementations must be safe for concurrent use: a fan-out calls the
// same DataSource from many goroutines.
type DataSource interface {
	// Info describes the type. It must return the same value every time.
	Info() Info
	// Observe reads the object the call names. It never writes.
	Observe(ctx context.Context, call Call) (Observation, error)
}

// Type is a step type: a DataSource that can also change what it observes
// (its Info().Kind is KindEnsure or KindAction). Implementations must be
// safe for concurrent use.
type Type interface {
	DataSource
	// Diff computes the change from what was observed to what the call asks
	// for. It returns Action NoOp when nothing needs doing.
	Diff(ctx context.Context, call Call, obs Observation) (Change, error)
	// Apply makes the change. For ensure types it must be safe to repeat.
	Apply(ctx context.Context, call Call, change Change) (Result, error)
}

// Reverter is implemented by step types whose completed changes can be
// undone. Revert takes the change as recorded at apply and brings the object
// back to change.Before; it must be safe to repeat. Types without it are
// reported by rollback as "not reverted".
type Reverter interface {
	Revert(ctx context.Context, call Call, change Change) error
}

// BulkObserver is implemented by step types that can observe the objects
// of many calls at once (the instances of one fan-out) with fewer requests
// than one Observe per call: a filtered or paged listing, a batch. The
// engine calls ObserveMany for the instances of a for_each step whose
// arguments are known, at plan and again at apply's drift check; a type
// without it has each instance observed on its own, as before.
//
// ObserveMany returns one BulkResult per call, in the order of calls, each
// what Observe would have returned for that call (an instance the bulk
// request did not find may be observed with Observe by the type itself).
// An error for the whole set fails the step's planning, as an Observe
// error does.
type BulkObserver interface {
	ObserveMany(ctx context.Context, calls []Call) ([]BulkResult, error)
}

// BulkResult is one call's outcome of BulkObserver.ObserveMany.
type BulkResult struct {
	Observation Observation
	Err         error
}

// ErrPaused is wrapped by errors that pause a run until a person acts (the
// approve step). The engine stops the run as "paused"; `rebind resume`
// continues it.
var ErrPaused = errors.New("steps: paused for a person")

// ErrIrreversible is wrapped by Revert errors for a change that cannot be
// undone after all (an exec step without an `undo` command). Rollback reports
// the step as not reverted and goes on with older steps.
var ErrIrreversible = errors.New("steps: change cannot be reverted")

// ErrNotFound is wrapped by Observe errors when the named object does not
// exist and the step cannot describe its absence as a state.
var ErrNotFound = errors.New("steps: object not found")

// PermanentError marks a failure that retrying cannot fix (a provisioning
// error reported by Entra, a refused write). An `await` ends early on it, and
// `retry` does not retry it.
type PermanentError struct {
	Err error
}

func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err is or wraps a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryAfterError tells the engine's retry loop the earliest time to try
// again (from a Retry-After header).
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *RetryAfterError) Unwrap() error { return e.Err }
