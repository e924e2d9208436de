package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/environment"
	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

// How a runbook's targets meet an environment (Engine.Env):
//
//   - Every target the runbook declares must be in the environment with the
//     same type and name; one of the same name and another type is a
//     mismatch. A lab (`--lab`) is bound as an environment like any other
//     (the CLI writes one holding the lab's settings).
//   - An environment target must be of a known type, and hold only settings
//     of that type's schema and none the schema marks sensitive:
//     credentials come from the process environment.
//   - A runbook may keep settings that do not say where things are (a
//     batch switch, a poll interval); a setting given by both is an error
//     naming both places, never a silent override.
//   - An environment target the runbook does not use is a warning.
//
// A target's required settings are checked once the environment is
// merged: at plan and apply always, at validate
// only when an environment was given.

// bindEnvironment merges the environment into the runbook's targets.
func (s *session) bindEnvironment() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range s.rb.Targets {
		if ot := s.tgts[t.Type+"."+t.Name]; ot != nil {
			ot.body = t.Config
		}
	}
	env, d := s.e.environment(s.targetKeys())
	s.env = env
	if env == nil || d.HasErrors() {
		return d
	}
	where := func(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }
	for _, et := range env.Targets {
		tt, ok := steps.LookupTarget(et.Type)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown target type",
				Detail:  fmt.Sprintf("The environment's target %q %q has an unknown type. Known types: %s.", et.Type, et.Name, strings.Join(steps.Targets(), ", ")),
				Subject: et.TypeRange.Ptr()})
			continue
		}
		// Types are checked when the target is decoded, with the
		// environment's line in the diagnostic.
		schema := tt.Info().Schema
		for _, name := range slices.Sorted(maps.Keys(et.Attrs)) {
			a := et.Attrs[name]
			sa, ok := schema[name]
			if !ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported setting",
					Detail:  fmt.Sprintf("A target of type %q has no setting %q. Its settings: %s.", et.Type, name, strings.Join(slices.Sorted(maps.Keys(schema)), ", ")),
					Subject: a.NameRange.Ptr()})
				continue
			}
			if sa.Sensitive {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Secret in an environment file",
					Detail:  fmt.Sprintf("The setting %q of target %q %q is a secret. An environment file is checked in and recorded in plans; secrets come from the process environment.", name, et.Type, et.Name),
					Subject: a.NameRange.Ptr()})
			}
		}
	}
	used := map[*environment.Target]bool{}
	for _, t := range s.rb.Targets {
		ot := s.tgts[t.Type+"."+t.Name]
		if ot == nil {
			continue
		}
		et := env.Lookup(t.Type, t.Name)
		if et == nil {
			var other *environment.Target
			for _, o := range env.Targets {
				if o.Name == t.Name {
					other = o
				}
			}
			switch {
			case other != nil:
				used[other] = true
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Target type mismatch",
					Detail: fmt.Sprintf("The runbook needs target %q %q (%s), and the environment %s declares %q %q (%s): a target's type and name must both match.",
						t.Type, t.Name, where(t.DeclRange), env.Path, other.Type, other.Name, where(other.DeclRange)),
					Subject: t.DeclRange.Ptr()})
			default:
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Target not in the environment",
					Detail: fmt.Sprintf("The runbook needs target %q %q, and the environment %s does not declare it. Add:\n\ntarget %q %q {\n%s}\n\nto %s.",
						t.Type, t.Name, env.Path, t.Type, t.Name, requiredSkeleton(ot.typ.Info().Schema), env.Path),
					Subject: t.DeclRange.Ptr()})
			}
			continue
		}
		used[et] = true
		rbAttrs, _ := t.Config.JustAttributes()
		for _, name := range slices.Sorted(maps.Keys(et.Attrs)) {
			if ra, both := rbAttrs[name]; both {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Setting given twice",
					Detail: fmt.Sprintf("The setting %q of target %q %q is given by the runbook (%s) and by the environment (%s). A runbook keeps only settings that do not depend on where it runs; remove one of them.",
						name, t.Type, t.Name, where(ra.NameRange), where(et.Attrs[name].NameRange)),
					Subject: ra.NameRange.Ptr()})
			}
		}
		ot.env = et
		ot.body = hcl.MergeBodies([]hcl.Body{t.Config, et.Body})
	}
	for _, et := range env.Targets {
		if !used[et] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Target not used",
				Detail:  fmt.Sprintf("The environment declares target %q %q, and this runbook does not use it.", et.Type, et.Name),
				Subject: et.DeclRange.Ptr()})
		}
	}
	return diags
}

// requireSettings reports whether a target's required settings must be
// present: at validate only when an environment was given.
func (s *session) requireSettings() bool {
	return !s.validating || s.e.Env != nil || s.e.Bind != nil
}

// checkRequired reports the required settings a merged target lacks.
func (s *session) checkRequired(ot *openTarget, v cty.Value) hcl.Diagnostics {
	if !v.IsKnown() || v.IsNull() {
		return nil
	}
	schema := ot.typ.Info().Schema
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(schema)) {
		if schema[name].Required && v.Type().HasAttribute(name) && v.GetAttr(name).IsNull() {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	t := ot.decl
	severity := hcl.DiagError
	fix := "set them in the runbook's target block"
	if s.env != nil {
		fix = fmt.Sprintf("set them in the environment %s", s.env.Path)
		if ot.env != nil {
			fix = fmt.Sprintf("set them in the environment's target %q %q (%s:%d)", t.Type, t.Name, ot.env.DeclRange.Filename, ot.env.DeclRange.Start.Line)
		}
	} else {
		fix = "give an environment file that sets them (--env FILE or REBIND_ENV; see examples/environments/prod.hcl), or bind to a lab tenant with --lab"
	}
	var lines []string
	for _, m := range missing {
		lines = append(lines, fmt.Sprintf("%s: %s", m, schema[m].Doc))
	}
	return hcl.Diagnostics{{Severity: severity, Summary: "Target setting missing",
		Detail:  fmt.Sprintf("Target %q %q needs %s; %s.\n%s", t.Type, t.Name, strings.Join(missing, " and "), fix, strings.Join(lines, "\n")),
		Subject: t.DeclRange.Ptr()}}
}

// environment is the environment of the targets keys name: Bind's when
// set, else Env.
func (e *Engine) environment(keys []string) (*environment.Environment, hcl.Diagnostics) {
	if e.Bind == nil {
		return e.Env, nil
	}
	env, err := e.Bind(keys)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot bind the targets", Detail: err.Error()}}
	}
	return env, nil
}

// environmentRecord is what a plan records of the environment: the file
// and the settings it gave the plan's targets.
func (s *session) environmentRecord() *plan.Environment {
	if s.env == nil {
		return nil
	}
	set := s.env.SettingsFor(s.targetKeys())
	return &plan.Environment{File: s.env.Path, Digest: set.Digest(), Settings: set}
}

func (s *session) targetKeys() []string {
	var keys []string
	for _, t := range s.rb.Targets {
		keys = append(keys, t.Type+"."+t.Name)
	}
	return keys
}

// checkEnvironment refuses to run a plan against targets other than the
// ones it was made against: every setting the plan's environment gave its
// targets must be what this engine's environment gives them. The runbook's
// own settings are in its sources, which the plan's digest covers, and the
// lab binding is compared by the caller.
func (e *Engine) checkEnvironment(p *plan.Plan) hcl.Diagnostics {
	var keys []string
	for _, t := range p.Targets {
		keys = append(keys, t.Type+"."+t.Name)
	}
	var was environment.Settings
	wasName := "no environment file"
	if p.Environment != nil {
		was = p.Environment.Settings
		wasName = "the environment " + p.Environment.File
	}
	env, d := e.environment(keys)
	if d.HasErrors() {
		return d
	}
	now := env.SettingsFor(keys)
	nowName := "no environment file (give it with --env or REBIND_ENV)"
	if env != nil {
		nowName = "the environment " + env.Path
	}
	if p.Lab != "" && e.Lab != "" {
		// A lab restarted from its state file serves the same tenant at
		// new addresses (and a new CA): of a lab's settings only those
		// naming the directory must match.
		was, now = identities(was), identities(now)
	}
	diffs := environment.Compare(was, now)
	if len(diffs) == 0 {
		return nil
	}
	var lines []string
	for _, d := range diffs {
		lines = append(lines, fmt.Sprintf("target %s, setting %s: planned with %s, now %s", d.Target, d.Setting, orNotSet(d.Was), orNotSet(d.Now)))
	}
	return hcl.Diagnostics{errDiag("Plan made against other targets",
		fmt.Errorf("the plan was made with %s, and this run has %s, which point its targets elsewhere:\n%s\nRun it with the environment it was planned against, or plan again",
			wasName, nowName, strings.Join(lines, "\n")))}
}

// identitySettings name a directory rather than where it is reached.
var identitySettings = map[string]bool{"tenant_id": true, "organization": true, "base_dn": true, "driver": true}

// identities keeps the identity settings of each target.
func identities(s environment.Settings) environment.Settings {
	out := environment.Settings{}
	for k, m := range s {
		out[k] = map[string]json.RawMessage{}
		for name, v := range m {
			if identitySettings[name] {
				out[k][name] = v
			}
		}
	}
	return out
}

func orNotSet(s string) string {
	if s == "" {
		return "(not set)"
	}
	return s
}

// requiredSkeleton lists a schema's required settings as HCL lines to fill.
func requiredSkeleton(s steps.Schema) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(s)) {
		if s[name].Required {
			fmt.Fprintf(&b, "  %s = ... # %s\n", name, s[name].Doc)
		}
	}
	return b.String()
}

// presentOnly is the part of schema that body sets.
func presentOnly(schema steps.Schema, body hcl.Body) steps.Schema {
	attrs, _ := body.JustAttributes()
	out := steps.Schema{}
	for name, a := range schema {
		if _, ok := attrs[name]; ok {
			out[name] = a
		}
	}
	return out
}

// Need is what one block of a runbook needs from a directory: a
// permission its step type declares, and the target it reaches it through.
type Need struct {
	// Address is the block, e.g. step.entra_immutable_id.clear.
	Address string
	// Target is "TYPE.NAME", "" for a step type that needs no target.
	Target     string
	Permission steps.Permission
}

// Needs lists what the runbook's data blocks and steps need, in file order,
// from their step types' Info.Permissions: generated from the declarations
// the plan lists, so it cannot drift from them. A block of an unknown type
// is left out (validate reports it).
func Needs(rb *runbook.Runbook) []Need {
	if len(rb.Modules) > 0 {
		// A module's steps need what they need where the module is
		// called: laid out with the variables' defaults, the others
		// unknown (a for_each on them stands for all its keys).
		vars := map[string]cty.Value{}
		for _, v := range rb.Variables {
			vars[v.Name] = v.Default
			if v.Default == cty.NilVal {
				vars[v.Name] = cty.UnknownVal(v.Type)
			}
		}
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}, Functions: lang.Functions(rb.Dir)}
		if flat, diags := runbook.LayOut(rb, ctx); !diags.HasErrors() {
			rb = flat
		}
	}
	var out []Need
	for _, st := range append(append([]*runbook.Step{}, rb.Data...), rb.Steps...) {
		t, ok := steps.Lookup(st.Type)
		if !ok {
			continue
		}
		info := t.Info()
		target := ""
		if info.Target != "" {
			if st.Target != nil {
				target = strings.TrimPrefix(refAddr(st.Target), "target.")
			} else {
				for _, rt := range rb.Targets {
					if rt.Type == info.Target {
						target = rt.Type + "." + rt.Name
					}
				}
			}
		}
		for _, p := range info.Permissions {
			out = append(out, Need{Address: st.Address(), Target: target, Permission: steps.ParsePermission(p)})
		}
	}
	return out
}

// ResolvedTarget is a runbook target with its settings merged from the
// runbook and the environment, as a target type's Open receives them.
type ResolvedTarget struct {
	Type, Name string
	Config     steps.TargetConfig
}

// ResolveTargets decodes the runbook's targets against the engine's
// environment, without reading anything: for `rebind doctor`. Variables
// without a default are unknown, so a setting built from one is unknown
// too (the caller says so).
func (e *Engine) ResolveTargets(rb *runbook.Runbook) ([]ResolvedTarget, hcl.Diagnostics) {
	s, diags := e.offline(e.Getenv).newSession(rb, unknownInputs(rb), e.workDir())
	if diags.HasErrors() {
		return nil, diags
	}
	diags = append(diags, s.evalEarly(context.Background(), func(d *runbook.Step) hcl.Diagnostics {
		s.sc.setData(d.Type, d.ScopeName(), cty.DynamicVal)
		return nil
	})...)
	if diags.HasErrors() {
		return nil, diags
	}
	getenv := e.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var out []ResolvedTarget
	for _, t := range rb.Targets {
		ot := s.tgts[t.Type+"."+t.Name]
		out = append(out, ResolvedTarget{Type: t.Type, Name: t.Name,
			Config: steps.TargetConfig{Name: t.Name, Config: ot.config, Getenv: getenv}})
	}
	return out, diags
}

// EnvironmentTargets are the environment's own targets, for `rebind
// doctor` without a runbook: each with its settings, the absent ones null.
func (e *Engine) EnvironmentTargets() ([]ResolvedTarget, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var out []ResolvedTarget
	if e.Env == nil {
		return nil, nil
	}
	getenv := e.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, et := range e.Env.Targets {
		tt, ok := steps.LookupTarget(et.Type)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown target type",
				Detail:  fmt.Sprintf("There is no target type %q. Known types: %s.", et.Type, strings.Join(steps.Targets(), ", ")),
				Subject: et.TypeRange.Ptr()})
			continue
		}
		v, d := hcldec.Decode(et.Body, targetSpec(tt.Info().Schema), nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		out = append(out, ResolvedTarget{Type: et.Type, Name: et.Name,
			Config: steps.TargetConfig{Name: et.Name, Config: v, Getenv: getenv}})
	}
	return out, diags
}
