// Package runbook represents what a runbook's .hcl files say, before any
// evaluation: the source form. Each step keeps its body as an hcl.Body and
// its meta-arguments as unevaluated expressions with their ranges; the engine
// evaluates them (engine/lang builds the EvalContext) and decodes each step's
// body against its step type's schema.
//
// A runbook is one .hcl file or a folder of them. In a folder the files are
// read in name order and blocks keep file order, so "steps run in file order"
// is well defined across files.
package runbook

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/addrs"
)

// Runbook is a parsed runbook. The result may be incomplete when the
// diagnostics returned with it have errors.
type Runbook struct {
	// Meta is the `runbook "NAME" {}` block; exactly one is required.
	Meta *Meta
	// Variables in declaration order.
	Variables []*Variable
	// Locals in declaration order (from every `locals {}` block).
	Locals []*Local
	// Targets in declaration order.
	Targets []*Target
	// Data blocks in declaration order (Mode DataMode).
	Data []*Step
	// Steps in run order (Mode StepMode).
	Steps []*Step
	// Modules are the module calls, in declaration order; each runs its
	// steps where it is declared among Steps (Module.Pos).
	Modules []*Module
	// Outputs are what the runbook gives a caller when called as a module.
	Outputs []*Output

	// Dir is the folder relative paths (file(), csv files) resolve from.
	Dir string
	// Sources maps each file name (relative to Dir, slash-separated) to its
	// bytes, so a plan can carry the runbook it was made from.
	Sources map[string][]byte
	// Files maps the same names to the parsed files, for rendering
	// diagnostics with source snippets (hcl.NewDiagnosticTextWriter).
	Files map[string]*hcl.File

	// stepRefs is what expressions read of step values: "TYPE.NAME",
	// "TYPE" (a whole type, indexed at run time) or "*" (all of step).
	stepRefs map[string]bool
	// moduleRefs are the references to module outputs, checked once the
	// modules are loaded.
	moduleRefs []hcl.Traversal
	// module is the Sources key of the module this runbook is, "" for a
	// root runbook (which needs a runbook block).
	module string
}

// ReferencesStep reports whether any expression of the runbook can read the
// value of step TYPE.NAME, so that the engine keeps in the evaluation
// context only what some expression reads. A runbook built without
// loading (no reference check) references every step.
func (rb *Runbook) ReferencesStep(typ, name string) bool {
	if rb.stepRefs == nil {
		return true
	}
	return rb.stepRefs["*"] || rb.stepRefs[typ] || rb.stepRefs[typ+"."+name]
}

// Meta is the runbook block.
type Meta struct {
	Name        string
	Title       string
	Description string
	// Approvals is the number of distinct reviewers, the author excluded,
	// a saved plan needs before it can be applied (0: none).
	Approvals int
	// IrreversibleApprovals, when larger than Approvals, is required instead
	// whenever the plan contains an irreversible change
	// (`irreversible_approvals`).
	IrreversibleApprovals int
	DeclRange             hcl.Range
}

// Variable is a `variable "NAME" {}` block.
type Variable struct {
	Name        string
	Description string
	// Type is the type constraint (cty.DynamicPseudoType when absent).
	Type cty.Type
	// Default is cty.NilVal when there is no default (the variable is
	// required).
	Default cty.Value
	// Sensitive values are never stored in plans or the journal, and are
	// asked for again at apply.
	Sensitive bool
	// PII values (UPNs, addresses) are masked by --redact.
	PII         bool
	Validations []*Check
	DeclRange   hcl.Range
}

// Local is one attribute of a `locals {}` block.
type Local struct {
	Name      string
	Expr      hcl.Expression
	DeclRange hcl.Range
}

// Target is a `target "TYPE" "NAME" {}` block. Config is the whole body,
// decoded by the engine against the target type's schema.
type Target struct {
	Type      string
	Name      string
	Config    hcl.Body
	DeclRange hcl.Range
	TypeRange hcl.Range
}

// Mode tells data blocks from step blocks.
type Mode int

const (
	// DataMode: a `data "TYPE" "NAME" {}` block, read-only.
	DataMode Mode = iota + 1
	// StepMode: a `step "TYPE" "NAME" {}` block.
	StepMode
)

// OnFailure is what the engine does when a step fails for good.
type OnFailure string

const (
	// OnFailureDefault: rollback when every completed step can be reverted,
	// else abort.
	OnFailureDefault OnFailure = ""
	// OnFailureRollback reverts completed steps, newest first.
	OnFailureRollback OnFailure = "rollback"
	// OnFailureAbort stops the run and leaves completed steps as they are.
	OnFailureAbort OnFailure = "abort"
	// OnFailureContinue records the failure and goes on with the next step.
	OnFailureContinue OnFailure = "continue"
)

// Step is a `step` or `data` block. Meta-arguments are taken out of the body;
// Config is what remains, for the step type's schema.
type Step struct {
	Mode Mode
	Type string
	Name string
	// Module is the path of module instances the block sits in (set by
	// the engine when it lays modules out), empty in the root runbook.
	Module addrs.Module

	// Config is the body without the meta-arguments below.
	Config hcl.Body

	// Target is the `target = target.TYPE.NAME` reference, nil when absent.
	Target hcl.Traversal
	// ForEach is the `for_each` expression (a map, or a set/list of
	// strings), nil when absent.
	ForEach hcl.Expression
	// MaxConcurrency is `max_concurrency` (a number), nil when absent.
	MaxConcurrency hcl.Expression
	// MaxErrors is `max_errors`: a number of failed instances, or a string
	// percentage such as "10%". Nil when absent (no instance may fail).
	MaxErrors hcl.Expression
	// DependsOn lists `depends_on` references (steps or data).
	DependsOn []hcl.Traversal
	// Timeout is `timeout` (a duration string such as "90s"), nil when absent.
	Timeout hcl.Expression
	// Await is `await` (a duration string): do not write, wait up to this
	// long for the object to reach the desired state. Nil when absent.
	Await hcl.Expression
	// OnFailure is `on_failure` (a bare keyword or string).
	OnFailure      OnFailure
	OnFailureRange hcl.Range
	// Optional is a data block's `optional = true`: when the object it names
	// does not exist, its value is null instead of the plan failing.
	Optional bool
	Retry    *Retry

	Preconditions  []*Check
	Postconditions []*Check

	DeclRange hcl.Range
	TypeRange hcl.Range
}

// Address returns "step.TYPE.NAME" or "data.TYPE.NAME", after the module
// path it sits in (module.NAME.step.TYPE.NAME).
func (s *Step) Address() string {
	return s.Addr().String()
}

// Addr is the block's typed address.
func (s *Step) Addr() addrs.Step {
	mode := addrs.StepMode
	if s.Mode == DataMode {
		mode = addrs.DataMode
	}
	return addrs.Step{Module: s.Module, Mode: mode, Type: s.Type, Name: s.Name}
}

// ScopeName is the name the block's value has in the engine's flat scope
// (step.TYPE[ScopeName]): its name, after its module path.
func (s *Step) ScopeName() string {
	return s.Module.String() + s.Name
}

// Retry is a `retry {}` block.
type Retry struct {
	// Attempts is the total number of tries, the first included.
	Attempts hcl.Expression
	// Backoff is the first wait as a duration string; it doubles each time.
	Backoff   hcl.Expression
	DeclRange hcl.Range
}

// Check is a precondition, postcondition or variable validation.
type Check struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}
