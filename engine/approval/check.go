package approval

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
	"github.com/zclconf/go-cty/cty"
)

// ErrAltered is matched (errors.Is) by an *AlteredError.
var ErrAltered = errors.New("approval: the plan was altered")

// ErrExpired is wrapped when a plan is past its expiry.
var ErrExpired = errors.New("approval: the plan expired")

// Mismatch is one field of a plan that disagrees with what it can be
// computed from.
type Mismatch struct {
	// Field is the field's path in the plan's JSON, e.g.
	// `steps[3].reversibility` or `approvals.required`.
	Field string
	// Plan is what the plan says; Want what its sources, the step types or
	// a fresh plan say.
	Plan, Want string
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s: the plan says %s, but %s", m.Field, m.Plan, m.Want)
}

// AlteredError refuses a plan whose JSON was changed after rebind made it.
type AlteredError struct {
	Mismatches []Mismatch
}

// maxShown bounds how many mismatches an error lists.
const maxShown = 10

// Error lists the fields that disagree, at most maxShown of them.
func (e *AlteredError) Error() string {
	var b strings.Builder
	n := len(e.Mismatches)
	fmt.Fprintf(&b, "the plan was altered after rebind made it: %d field%s disagree%s with its runbook sources, rebind's step types or the same runbook planned again; it cannot be applied:", n, plural(n), map[bool]string{true: "s", false: ""}[n == 1])
	for i, m := range e.Mismatches {
		if i == maxShown {
			fmt.Fprintf(&b, "\n  … and %d more", n-maxShown)
			break
		}
		b.WriteString("\n  " + m.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrAltered) true.
func (e *AlteredError) Is(target error) bool { return target == ErrAltered }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Review is what the applier concluded about a plan before anything runs.
type Review struct {
	// Runbook is the runbook loaded from the plan's own sources.
	Runbook *runbook.Runbook
	// Required is the number of distinct reviewers the plan needs, with
	// the policy's floors applied.
	Required int
	// Irreversible is set when the plan holds a change that cannot (or may
	// not) be undone.
	Irreversible bool
	// Approval is the verified signatures (empty when none were needed
	// and none could be checked).
	Approval plan.Approval
}

// Consistent checks a plan against what it can be recomputed from without
// contacting any directory: its runbook sources (which must hash to the
// digest it names), the runbook's approval counts, variables and targets,
// and each step's header from its step type. It returns the runbook the
// sources load to. The error is an *AlteredError listing every mismatch,
// or a load error.
func Consistent(p *plan.Plan) (*runbook.Runbook, error) {
	var ms []Mismatch
	add := func(field string, got, want any, source string) {
		ms = append(ms, Mismatch{Field: field, Plan: show(got), Want: source + " " + show(want)})
	}
	src := make(map[string][]byte, len(p.Runbook.Sources))
	for k, v := range p.Runbook.Sources {
		src[k] = []byte(v)
	}
	if got := plan.SourcesDigest(src); got != p.Runbook.Digest {
		add("runbook.digest", p.Runbook.Digest, got, "its sources hash to")
		return nil, &AlteredError{Mismatches: ms}
	}
	rb, diags := runbook.LoadSources(p.Runbook.Dir, src)
	if diags.HasErrors() {
		return nil, fmt.Errorf("approval: the plan's runbook sources do not load: %w", diags)
	}
	m := rb.Meta
	fromSources := "its runbook sources say"
	if p.Runbook.Name != m.Name {
		add("runbook.name", p.Runbook.Name, m.Name, fromSources)
	}
	if p.Runbook.Title != m.Title {
		add("runbook.title", p.Runbook.Title, m.Title, fromSources)
	}
	if p.Runbook.Description != m.Description {
		add("runbook.description", p.Runbook.Description, m.Description, fromSources)
	}
	if p.Approvals.Required != m.Approvals {
		add("approvals.required", p.Approvals.Required, m.Approvals, fromSources)
	}
	if p.Approvals.IrreversibleRequired != m.IrreversibleApprovals {
		add("approvals.irreversible_required", p.Approvals.IrreversibleRequired, m.IrreversibleApprovals, fromSources)
	}

	// Inputs: every variable that is not sensitive, and no other. A
	// missing one would let apply take an unreviewed value.
	var secret []string
	declared := map[string]bool{}
	for _, v := range rb.Variables {
		declared[v.Name] = true
		_, in := p.Inputs[v.Name]
		switch {
		case v.Sensitive:
			secret = append(secret, v.Name)
			if in {
				ms = append(ms, Mismatch{Field: "inputs." + v.Name, Plan: "a value", Want: "the variable is sensitive, and a plan never holds a sensitive value"})
			}
		case !in:
			ms = append(ms, Mismatch{Field: "inputs." + v.Name, Plan: "nothing", Want: "every variable that is not sensitive is in a plan, as it was reviewed"})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.Inputs)) {
		if !declared[name] {
			ms = append(ms, Mismatch{Field: "inputs." + name, Plan: "a value", Want: "the runbook declares no such variable"})
		}
	}
	if !slices.Equal(p.SecretInputs, secret) {
		add("secret_inputs", p.SecretInputs, secret, fromSources)
	}

	// Targets, by type and name, in file order.
	var tgts, ptgts []string
	for _, t := range rb.Targets {
		tgts = append(tgts, t.Type+"."+t.Name)
	}
	for _, t := range p.Targets {
		ptgts = append(ptgts, t.Type+"."+t.Name)
	}
	if !slices.Equal(ptgts, tgts) {
		add("targets", ptgts, tgts, fromSources)
	}

	// Steps: data blocks, then steps, each in file order; each header as
	// its step type declares it.
	blocks := append(append([]*runbook.Step{}, rb.Data...), rb.Steps...)
	if len(rb.Modules) > 0 {
		flat, err := layOut(rb, p)
		if err != nil {
			return nil, err
		}
		blocks = append(append([]*runbook.Step{}, flat.Data...), flat.Steps...)
	}
	if len(p.Steps) != len(blocks) {
		add("steps", fmt.Sprintf("%d blocks", len(p.Steps)), fmt.Sprintf("%d", len(blocks)), "its runbook sources have")
	}
	perms := map[string]bool{}
	for i, st := range blocks {
		t, ok := steps.Lookup(st.Type)
		if !ok {
			return nil, fmt.Errorf("approval: the plan's runbook uses the step type %q, which this rebind does not have", st.Type)
		}
		for _, x := range t.Info().Permissions {
			perms[x] = true
		}
		if i >= len(p.Steps) {
			continue
		}
		mode := map[runbook.Mode]string{runbook.DataMode: "data", runbook.StepMode: "step"}[st.Mode]
		want := plan.NewStep(st.Address(), mode, st.Type, t.Info())
		ms = append(ms, compareHeader(fmt.Sprintf("steps[%d]", i), p.Steps[i], want)...)
		ms = append(ms, checkInstances(fmt.Sprintf("steps[%d]", i), p.Steps[i], st, t)...)
	}
	wantPerms := slices.Sorted(maps.Keys(perms))
	if !slices.Equal(p.Permissions, wantPerms) {
		add("permissions", p.Permissions, wantPerms, "its step types need")
	}
	if len(ms) > 0 {
		return rb, &AlteredError{Mismatches: ms}
	}
	return rb, nil
}

// compareHeader compares a plan step's header with the one its step type
// gives.
func compareHeader(field string, got, want plan.Step) []Mismatch {
	var ms []Mismatch
	add := func(name string, g, w any) {
		if gs, ok := g.([]string); ok {
			g = strings.Join(gs, ", ")
			w = strings.Join(w.([]string), ", ")
		}
		if show(g) != show(w) {
			ms = append(ms, Mismatch{Field: field + "." + name, Plan: show(g), Want: "the step type " + want.Type + " says " + show(w)})
		}
	}
	if got.Address != want.Address || got.Mode != want.Mode || got.Type != want.Type {
		return []Mismatch{{Field: field, Plan: fmt.Sprintf("%s %s (%s)", got.Mode, got.Address, got.Type),
			Want: fmt.Sprintf("its runbook sources have %s %s there", want.Mode, want.Address)}}
	}
	add("kind", got.Kind, want.Kind)
	add("reversibility", got.Reversibility, want.Reversibility)
	add("irreversible_reason", got.IrreversibleReason, want.IrreversibleReason)
	add("repeat_safe", got.RepeatSafe, want.RepeatSafe)
	add("permissions", got.Permissions, want.Permissions)
	return ms
}

// checkInstances checks what can be known of a step's instances without
// the directories: their addresses belong to the step, and an instance
// that writes (or may write) with a step type that cannot be undone is
// marked irreversible. Per-call reversibility (exec without undo) needs
// the arguments and is checked against a fresh plan (Compare).
func checkInstances(field string, ps plan.Step, st *runbook.Step, t steps.DataSource) []Mismatch {
	var ms []Mismatch
	_, perCall := t.(steps.CallReversibility)
	static := t.Info().Reversibility == steps.Irreversible
	for j, in := range ps.Instances {
		f := fmt.Sprintf("%s.instances[%d]", field, j)
		switch {
		case st.ForEach == nil && in.Address != st.Address():
			ms = append(ms, Mismatch{Field: f + ".address", Plan: show(in.Address), Want: "the step is not fanned out, so its only instance is " + show(st.Address())})
			continue
		case st.ForEach != nil && in.Address != st.Address()+"[*]" && in.Address != fmt.Sprintf("%s[%q]", st.Address(), in.Key):
			ms = append(ms, Mismatch{Field: f + ".address", Plan: show(in.Address), Want: fmt.Sprintf("an instance of %s with key %s is %s", st.Address(), show(in.Key), show(fmt.Sprintf("%s[%q]", st.Address(), in.Key)))})
			continue
		}
		writes := in.Action != string(steps.NoOp) && in.Action != string(steps.Read)
		switch {
		case in.Action == plan.ActionDeferred && (static || perCall) && !in.Irreversible:
			ms = append(ms, Mismatch{Field: f + ".irreversible", Plan: "false", Want: "an instance decided at apply whose step type may not be undone counts as irreversible"})
		case writes && static && !in.Irreversible:
			ms = append(ms, Mismatch{Field: f + ".irreversible", Plan: "false", Want: "the step type " + ps.Type + " cannot be undone"})
		case in.Irreversible && !static && !perCall:
			ms = append(ms, Mismatch{Field: f + ".irreversible", Plan: "true", Want: "the step type " + ps.Type + " can be undone"})
		case in.Irreversible && !writes:
			ms = append(ms, Mismatch{Field: f + ".irreversible", Plan: "true", Want: "the instance changes nothing"})
		}
	}
	// Unchanged instances (plan.Unchanged) are instances of a fan-out,
	// each key once among all the step's instances.
	if len(ps.Unchanged) > 0 && st.ForEach == nil {
		ms = append(ms, Mismatch{Field: field + ".unchanged", Plan: fmt.Sprintf("%d rows", len(ps.Unchanged)), Want: "the step is not fanned out, so its only instance is recorded whole"})
		return ms
	}
	if len(ps.Unchanged) > 0 {
		keys := make(map[string]bool, len(ps.Instances))
		for _, in := range ps.Instances {
			keys[in.Key] = true
		}
		for j, u := range ps.Unchanged {
			if keys[u.Key] {
				ms = append(ms, Mismatch{Field: fmt.Sprintf("%s.unchanged[%d]", field, j), Plan: "key " + show(u.Key), Want: "each key is one instance, and an instance of that key is also in instances"})
			}
		}
	}
	return ms
}

// Check decides whether p may be applied under pol at now: it must be
// consistent with its sources and step types (Consistent), not expired,
// and carry valid approvals from at least Required distinct reviewers,
// verified against the policy's allowed signers. Signatures are checked
// whenever allowed signers are known, even when none are needed: a plan
// carrying a signature that does not hold was tampered with or mixed up.
//
// Check contacts no directory. What depends on the directories
// (per-call reversibility, observed values, notes) is checked afterwards
// by planning again and calling Compare.
func Check(p *plan.Plan, pol *Policy, now time.Time) (*Review, error) {
	if pol == nil {
		pol = Default()
	}
	rb, err := Consistent(p)
	if err != nil {
		return nil, err
	}
	if now.After(p.Expires) {
		return nil, fmt.Errorf("%w at %s; make a new one", ErrExpired, p.Expires.Format(time.RFC3339))
	}
	r := &Review{Runbook: rb, Irreversible: p.HasIrreversible()}
	r.Required = pol.Required(rb.Meta.Approvals, rb.Meta.IrreversibleApprovals, r.Irreversible)
	r.Approval = plan.Approval{Digest: p.Digest(), Required: r.Required}
	if pol.AllowedSigners == nil {
		if r.Required > 0 {
			return r, fmt.Errorf("%w: the plan needs %d approval%s (%s); give an allowed-signers file (--allowed-signers, REBIND_ALLOWED_SIGNERS or the policy's allowed_signers) so rebind can verify them",
				plan.ErrNoAllowedSigners, r.Required, plural(r.Required), why(r, rb, pol))
		}
		return r, nil
	}
	ap, err := plan.VerifyFor(p, pol.AllowedSigners, now, r.Required)
	r.Approval = ap
	if err != nil {
		return r, &ApprovalsError{Digest: ap.Digest, Why: why(r, rb, pol), Err: err}
	}
	return r, nil
}

// why says where a required count comes from.
func why(r *Review, rb *runbook.Runbook, pol *Policy) string {
	parts := []string{fmt.Sprintf("the runbook asks for %d", rb.Meta.Approvals)}
	if r.Irreversible && rb.Meta.IrreversibleApprovals > 0 {
		parts = append(parts, fmt.Sprintf("%d for a change that cannot be undone", rb.Meta.IrreversibleApprovals))
	}
	if pol.Source != "" {
		floor := pol.Approvals
		if r.Irreversible {
			floor = max(floor, pol.IrreversibleApprovals)
		}
		parts = append(parts, fmt.Sprintf("%s sets at least %d", pol.Source, floor))
	}
	return strings.Join(parts, ", ")
}

// ApprovalsError lists what is wrong with a plan's approvals, one problem
// a line; errors.Is sees each problem's plan sentinel.
type ApprovalsError struct {
	Digest string
	// Why says where the required count comes from.
	Why string
	Err error
}

// Error lists each problem on a line of its own.
func (e *ApprovalsError) Error() string {
	var lines []string
	for _, x := range Unjoin(e.Err) {
		lines = append(lines, "  "+x.Error())
	}
	return fmt.Sprintf("the plan's approvals do not hold (sha256:%s; %s):\n%s", e.Digest, e.Why, strings.Join(lines, "\n"))
}

// Unwrap returns the problems.
func (e *ApprovalsError) Unwrap() error { return e.Err }

// Unjoin splits an errors.Join error into its parts.
func Unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// OnlyTooFew reports whether err says nothing but that approvals are
// missing.
func OnlyTooFew(err error) bool {
	var ae *ApprovalsError
	if errors.As(err, &ae) {
		err = ae.Err
	}
	for _, e := range Unjoin(err) {
		if !errors.Is(e, plan.ErrTooFewApprovals) {
			return false
		}
	}
	return true
}

// layOut lays out the modules of the plan's runbook as the engine does,
// with the plan's inputs: the blocks the plan's steps must be.
func layOut(rb *runbook.Runbook, p *plan.Plan) (*runbook.Runbook, error) {
	vars := map[string]cty.Value{}
	for _, v := range rb.Variables {
		raw, ok := p.Inputs[v.Name]
		switch {
		case ok:
			val, err := plan.DecodeValue(raw, v.Type)
			if err != nil {
				return nil, fmt.Errorf("approval: the plan's input %q: %w", v.Name, err)
			}
			vars[v.Name] = val
		case v.Default != cty.NilVal:
			vars[v.Name] = v.Default
		default:
			vars[v.Name] = cty.UnknownVal(v.Type).Mark(lang.Sensitive)
		}
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}, Functions: lang.Functions(rb.Dir)}
	flat, diags := runbook.LayOut(rb, ctx)
	if diags.HasErrors() {
		return nil, fmt.Errorf("approval: the plan's runbook modules do not lay out: %w", diags)
	}
	return flat, nil
}
