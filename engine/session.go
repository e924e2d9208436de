package engine

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/environment"
	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

// session is one evaluation of a runbook: the values in scope, the step and
// target types it uses, and the targets it has opened.
type session struct {
	e     *Engine
	rb    *runbook.Runbook
	sc    *scope
	types map[string]steps.DataSource // by type name; see stepType
	specs map[string]hcldec.ObjectSpec
	tgts  map[string]*openTarget
	// env is the environment the targets were bound with (Engine.Env or
	// Engine.Bind), nil when none.
	env    *environment.Environment
	dir    string
	runID  string
	values map[string]cty.Value // resolved variables, marked
	secret []string             // names of sensitive variables
	// stepLocals are the locals that depend on steps, in evaluation order:
	// they are evaluated again each time a step completes.
	stepLocals []*runbook.Local
	// earlyDone is the pre-step evaluation order (locals, targets, data).
	early []node
	// secrets is every secret the session has met, to scrub from text.
	secrets *secretSet
	// keyed is set once a fingerprint or label was keyed with the
	// engine's key (a sensitive value was observed).
	keyed atomic.Bool
	// logw is the engine's log, scrubbed of secrets.
	logw io.Writer
	// validating is set by Validate: nothing is observed, and a target's
	// required settings are checked only against an environment.
	validating bool
}

// newSession checks that every step and target type exists, resolves the
// variables and prepares the scope. Nothing is observed yet.
func (e *Engine) newSession(rb *runbook.Runbook, in Inputs, dir string) (*session, hcl.Diagnostics) {
	e.log() // the locked log writer exists before any goroutine starts
	s := &session{
		e: e, rb: rb,
		sc:      newScope(lang.GuardSecrets(lang.Functions(rb.Dir))),
		types:   map[string]steps.DataSource{},
		specs:   map[string]hcldec.ObjectSpec{},
		tgts:    map[string]*openTarget{},
		dir:     dir,
		secrets: newSecretSet(),
	}
	s.logw = scrubWriter{w: e.log(), s: s.secrets}
	var diags hcl.Diagnostics
	if len(rb.Modules) > 0 {
		// The modules' blocks are laid out once the variables are known:
		// a module's for_each decides how many copies there are.
		if diags = s.resolveVars(in); diags.HasErrors() {
			return nil, s.secrets.scrubDiags(diags)
		}
		flat, d := runbook.LayOut(rb, s.sc.ctx())
		diags = append(diags, d...)
		if diags.HasErrors() {
			return nil, s.secrets.scrubDiags(diags)
		}
		rb, s.rb = flat, flat
	}
	s.sc.readsStep = rb.ReferencesStep
	for _, st := range append(append([]*runbook.Step{}, rb.Data...), rb.Steps...) {
		t, ok := steps.Lookup(st.Type)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown step type",
				Detail:   fmt.Sprintf("There is no step type %q. Known types: %s.", st.Type, strings.Join(steps.Types(), ", ")),
				Subject:  st.TypeRange.Ptr(),
			})
			continue
		}
		info := t.Info()
		_, isStep := t.(steps.Type)
		if st.Mode == runbook.DataMode && isStep {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Not a data type",
				Detail:   fmt.Sprintf("%q is a %s step type; data blocks only read. Use a step block.", st.Type, info.Kind),
				Subject:  st.TypeRange.Ptr(),
			})
		}
		if st.Mode == runbook.StepMode && !isStep {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Data type used as a step",
				Detail:   fmt.Sprintf("%q only reads; declare it as `data %q %q`.", st.Type, st.Type, st.Name),
				Subject:  st.TypeRange.Ptr(),
			})
		}
		if st.Await != nil && info.Kind != steps.KindEnsure {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Await on a step that is not desired state",
				Detail:   fmt.Sprintf("`await` waits for %s to reach a desired state, but %q is a %s type.", st.Address(), st.Type, info.Kind),
				Subject:  st.Await.Range().Ptr(),
			})
		}
		diags = append(diags, s.checkTargetRef(st, info)...)
		s.types[st.Type] = t
		s.specs[st.Type] = specFor(info.Schema)
	}
	for _, t := range rb.Targets {
		tt, ok := steps.LookupTarget(t.Type)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown target type",
				Detail:   fmt.Sprintf("There is no target type %q. Known types: %s.", t.Type, strings.Join(steps.Targets(), ", ")),
				Subject:  t.TypeRange.Ptr(),
			})
			continue
		}
		s.tgts[t.Type+"."+t.Name] = &openTarget{decl: t, typ: tt}
	}
	diags = append(diags, s.bindEnvironment()...)
	if diags.HasErrors() {
		return nil, diags
	}
	if s.values == nil {
		diags = append(diags, s.resolveVars(in)...)
	}
	if diags.HasErrors() {
		return nil, s.secrets.scrubDiags(diags)
	}
	// Until a step has run, what it produces is unknown.
	for _, st := range rb.Steps {
		s.sc.setStep(st.Type, st.ScopeName(), cty.DynamicVal)
	}
	diags = append(diags, s.orderEarly()...)
	return s, diags
}

// orderEarly sorts locals, targets and data blocks by their references and
// finds the locals that depend on steps.
func (s *session) orderEarly() hcl.Diagnostics {
	var diags hcl.Diagnostics
	var nodes []node
	localByName := map[string]*runbook.Local{}
	for _, l := range s.rb.Locals {
		localByName[l.Name] = l
		nodes = append(nodes, node{addr: "local." + l.Name, refs: l.Expr.Variables(), rng: l.DeclRange})
	}
	for _, t := range s.rb.Targets {
		ot := s.tgts[t.Type+"."+t.Name]
		var refs []hcl.Traversal
		if ot != nil {
			refs = hcldec.Variables(ot.body, targetSpec(ot.typ.Info().Schema))
		}
		nodes = append(nodes, node{addr: "target." + t.Type + "." + t.Name, refs: refs, rng: t.DeclRange})
	}
	for _, d := range s.rb.Data {
		refs := hcldec.Variables(d.Config, s.specs[d.Type])
		if d.Target != nil {
			refs = append(refs, d.Target)
		}
		refs = append(refs, d.DependsOn...)
		nodes = append(nodes, node{addr: scopeAddr(d), refs: refs, rng: d.DeclRange})
	}
	sorted, d := order(nodes)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return diags
	}
	// A local depends on steps when it refers to a step or to such a local.
	dependsOnStep := map[string]bool{}
	for _, n := range sorted {
		for _, r := range n.refs {
			a := refAddr(r)
			if strings.HasPrefix(a, "step.") || dependsOnStep[a] {
				dependsOnStep[n.addr] = true
			}
		}
		if dependsOnStep[n.addr] && !strings.HasPrefix(n.addr, "local.") {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Reference to a step before steps run",
				Detail:   fmt.Sprintf("%s is evaluated before any step runs, so it cannot depend on a step's outcome.", n.addr),
				Subject:  n.rng.Ptr(),
			})
		}
		if dependsOnStep[n.addr] && strings.HasPrefix(n.addr, "local.") {
			s.stepLocals = append(s.stepLocals, localByName[strings.TrimPrefix(n.addr, "local.")])
		}
	}
	s.early = sorted
	return diags
}

// evalEarly evaluates locals and targets, and reads data blocks with read.
func (s *session) evalEarly(ctx context.Context, read func(*runbook.Step) hcl.Diagnostics) hcl.Diagnostics {
	var diags hcl.Diagnostics
	dataByAddr := map[string]*runbook.Step{}
	for _, d := range s.rb.Data {
		dataByAddr[scopeAddr(d)] = d
	}
	localByAddr := map[string]*runbook.Local{}
	for _, l := range s.rb.Locals {
		localByAddr["local."+l.Name] = l
	}
	for _, n := range s.early {
		switch {
		case strings.HasPrefix(n.addr, "local."):
			l := localByAddr[n.addr]
			v, d := l.Expr.Value(s.sc.ctxReading(l.Expr.Variables()))
			diags = append(diags, d...)
			if v == cty.NilVal {
				v = cty.DynamicVal
			}
			s.sc.setLocal(l.Name, v)
		case strings.HasPrefix(n.addr, "target."):
			key := strings.TrimPrefix(n.addr, "target.")
			ot := s.tgts[key]
			schema := ot.typ.Info().Schema
			v, d := hcldec.Decode(ot.body, targetSpec(schema), s.sc.ctx())
			diags = append(diags, d...)
			// A required setting written as null is an error wherever it
			// is written; an absent one is checkRequired's to report: it
			// may come from the environment, or a lab.
			diags = append(diags, checkNulls(presentOnly(schema, ot.body), v, ot.body, n.addr)...)
			diags = append(diags, checkNumbers(v, ot.body, n.addr)...)
			if !d.HasErrors() && s.requireSettings() {
				diags = append(diags, s.checkRequired(ot, v)...)
			}
			if v == cty.NilVal {
				v = cty.DynamicVal
			}
			ot.shown = lang.Redact(taint(v, secretArgs(schema, v)), false)
			s.secrets.add(v)
			v, _ = v.UnmarkDeep()
			ot.config = v
			s.sc.setTarget(ot.decl.Type, ot.decl.Name, redactSchema(schema, v))
		default:
			diags = append(diags, read(dataByAddr[n.addr])...)
		}
		if diags.HasErrors() {
			return diags
		}
	}
	return diags
}

// scopeAddr is a data block's or step's address as references in the flat
// scope name it (data.TYPE.NAME, the name after its module path).
func scopeAddr(st *runbook.Step) string {
	return string(st.Addr().Mode) + "." + st.Type + "." + st.ScopeName()
}

// refreshStepLocals re-evaluates the locals that depend on steps.
func (s *session) refreshStepLocals() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, l := range s.stepLocals {
		v, d := l.Expr.Value(s.sc.ctx())
		diags = append(diags, d...)
		if v == cty.NilVal {
			v = cty.DynamicVal
		}
		s.sc.setLocal(l.Name, v)
	}
	return diags
}

// stepType is the type of a step block: a steps.Type, as newSession
// checked (a data source in a step block is refused there).
func (s *session) stepType(st *runbook.Step) steps.Type {
	return s.types[st.Type].(steps.Type)
}

// decode evaluates a step's arguments. The result keeps marks; callers
// unmark before handing it to the step.
func (s *session) decode(st *runbook.Step, ectx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	t := s.types[st.Type]
	v, diags := hcldec.Decode(st.Config, s.specs[st.Type], ectx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	diags = append(diags, checkNulls(t.Info().Schema, v, st.Config, st.Address())...)
	diags = append(diags, checkNumbers(v, st.Config, st.Address())...)
	return v, diags
}
