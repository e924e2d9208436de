package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/user"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/rebind-dev/rebind/engine/addrs"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

// PlanOptions tunes Plan.
type PlanOptions struct {
	// Author is recorded in the plan; the local user name when empty.
	Author string
	// TTL is how long the plan stays valid; 24 h when zero.
	TTL time.Duration
	// RefuseLocked refuses a plan that would write an object another run
	// holds in the engine's Store (the command line sets it with a shared
	// journal, where that run may be another machine's); otherwise only
	// apply refuses it.
	RefuseLocked bool
}

// Plan observes everything the runbook touches and returns the changes it
// would make. Nothing is written. The plan may be nil when diags has errors.
func (e *Engine) Plan(ctx context.Context, rb *runbook.Runbook, in Inputs, opt PlanOptions) (*plan.Plan, hcl.Diagnostics) {
	s, diags := e.newSession(rb, in, e.workDir())
	if diags.HasErrors() {
		return nil, diags
	}
	defer s.close()
	p, d := s.plan(ctx, opt)
	diags = append(diags, d...)
	if opt.RefuseLocked && e.Store != nil && p != nil && !diags.HasErrors() {
		diags = append(diags, e.lockedObjects(ctx, p)...)
	}
	return p, s.secrets.scrubDiags(diags)
}

// lockedObjects refuses a plan that would write an object another run holds:
// it could not be applied until that run ends.
func (e *Engine) lockedObjects(ctx context.Context, p *plan.Plan) hcl.Diagnostics {
	locks, err := e.Store.Locks(ctx)
	if err != nil {
		return hcl.Diagnostics{errDiag("Cannot read the journal", err)}
	}
	for _, obj := range lockObjects(p) {
		if run, ok := locks[obj]; ok {
			return hcl.Diagnostics{e.lockedDiag(ctx, &journal.LockError{Object: obj, HeldBy: run})}
		}
	}
	return nil
}

// plan runs the planning walk in an existing session.
func (s *session) plan(ctx context.Context, opt PlanOptions) (*plan.Plan, hcl.Diagnostics) {
	now := s.e.now()
	if opt.TTL == 0 {
		opt.TTL = 24 * time.Hour
	}
	if opt.Author == "" {
		opt.Author = LocalUser()
	}
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Runbook: plan.Runbook{
			Name: s.rb.Meta.Name, Title: s.rb.Meta.Title, Description: s.rb.Meta.Description,
			Digest: plan.SourcesDigest(s.rb.Sources), Sources: map[string]string{}, Dir: s.rb.Dir,
		},
		Inputs:       map[string]plan.Value{},
		SecretInputs: s.secret,
		Lab:          s.e.Lab,
		Environment:  s.environmentRecord(),
		Approvals:    plan.Policy{Required: s.rb.Meta.Approvals, IrreversibleRequired: s.rb.Meta.IrreversibleApprovals},
		Author:       opt.Author,
		Created:      now.UTC().Truncate(time.Second),
		Expires:      now.Add(opt.TTL).UTC().Truncate(time.Second),
		Permissions:  []string{},
		Targets:      []plan.Target{},
	}
	for name, src := range s.rb.Sources {
		p.Runbook.Sources[name] = string(src)
	}
	for _, v := range s.rb.Variables {
		if v.Sensitive {
			continue
		}
		p.Inputs[v.Name] = plan.EncodeValue(s.values[v.Name])
	}
	var diags hcl.Diagnostics
	perms := map[string]bool{}
	addPerms := func(info steps.Info) {
		for _, x := range info.Permissions {
			perms[x] = true
		}
	}
	// Data blocks are read in reference order, but listed in file order.
	dataSteps := map[string]plan.Step{}
	diags = append(diags, s.evalEarly(ctx, func(d *runbook.Step) hcl.Diagnostics {
		ps, dd := s.planData(ctx, d)
		dataSteps[d.Address()] = ps
		return dd
	})...)
	if diags.HasErrors() {
		return nil, diags
	}
	for _, t := range s.rb.Targets {
		ot := s.tgts[t.Type+"."+t.Name]
		p.Targets = append(p.Targets, plan.Target{Type: t.Type, Name: t.Name,
			Config: plan.EncodeValue(ot.shown)})
	}
	for _, d := range s.rb.Data {
		p.Steps = append(p.Steps, dataSteps[d.Address()])
		addPerms(s.types[d.Type].Info())
	}
	// pending is set once an earlier step will write: from then on what is
	// observed now may not be what that step will see. writers names, for
	// each object, the earlier instance that changes it first.
	pending := false
	writers := map[string]string{}
	for _, st := range s.rb.Steps {
		ps, wrote, d := s.planStep(ctx, st, pending, writers)
		diags = append(diags, d...)
		if diags.HasErrors() {
			return nil, diags
		}
		pending = pending || wrote
		p.Steps = append(p.Steps, ps)
		addPerms(s.types[st.Type].Info())
	}
	for x := range perms {
		p.Permissions = append(p.Permissions, x)
	}
	sort.Strings(p.Permissions)
	cost, d := s.planCost(p)
	if diags = append(diags, d...); diags.HasErrors() {
		return nil, diags
	}
	p.Cost = cost
	p.StoreObservedOnce()
	if s.keyed.Load() {
		p.KeyID = s.e.KeyID()
	}
	return p, diags
}

func stepHeader(st *runbook.Step, info steps.Info) plan.Step {
	mode := map[runbook.Mode]string{runbook.DataMode: "data", runbook.StepMode: "step"}[st.Mode]
	return plan.NewStep(st.Address(), mode, st.Type, info)
}

// planData reads one data block and puts its value in scope.
func (s *session) planData(ctx context.Context, d *runbook.Step) (plan.Step, hcl.Diagnostics) {
	t := s.types[d.Type]
	info := t.Info()
	ps := stepHeader(d, info)
	cfg, diags := s.decode(d, s.sc.ctx())
	if diags.HasErrors() {
		return ps, diags
	}
	if !cfg.IsWhollyKnown() {
		s.sc.setData(d.Type, d.ScopeName(), cty.DynamicVal)
		ps.Instances = append(ps.Instances, plan.Instance{Address: d.Address(), Action: plan.ActionDeferred})
		return ps, diags
	}
	obs, err := s.observe(ctx, d, info, cfg, "", d.Address())
	var notes []string
	switch {
	case err != nil && d.Optional && errors.Is(err, steps.ErrNotFound):
		// optional = true: finding nothing is an answer, and the value
		// says so. The error names what was looked for.
		obs = steps.Observation{Value: cty.NullVal(cty.DynamicPseudoType)}
		notes = append(notes, s.secrets.scrub("not found, and optional: its value is null ("+strings.TrimSuffix(err.Error(), ": "+steps.ErrNotFound.Error())+")"))
	case err != nil:
		return ps, append(diags, stepError(d, "Cannot read "+d.Address(), err))
	}
	s.sc.setData(d.Type, d.ScopeName(), obs.Value)
	self := instanceValue(obs.Value, cty.NullVal(cty.DynamicPseudoType), "read")
	for _, c := range append(append([]*runbook.Check{}, d.Preconditions...), d.Postconditions...) {
		_, dd := lang.EvalCheck(s.sc.child(cty.NilVal, self), c, checkKind(d, c))
		diags = append(diags, dd...)
	}
	ps.Instances = append(ps.Instances, plan.Instance{
		Address: d.Address(), Object: s.safeObject(obs.Object, secretStrings(cfg)), Fingerprint: s.fingerprint(obs.Value),
		Observed: plan.EncodeValue(lang.Redact(obs.Value, false)), Action: string(steps.Read),
		Notes: notes,
	})
	return ps, diags
}

func checkKind(st *runbook.Step, c *runbook.Check) string {
	for _, p := range st.Postconditions {
		if p == c {
			return "Postcondition"
		}
	}
	return "Precondition"
}

// planStep plans every instance of a step. wrote reports whether any
// instance will (or may) write.
func (s *session) planStep(ctx context.Context, st *runbook.Step, pending bool, writers map[string]string) (plan.Step, bool, hcl.Diagnostics) {
	t := s.stepType(st)
	info := t.Info()
	ps := stepHeader(st, info)
	if st.Await != nil {
		if d, diags := lang.ParseDuration(s.sc.ctx(), st.Await, "await"); !diags.HasErrors() {
			ps.Await = d.String()
		} else {
			return ps, false, diags
		}
	}
	if d := s.checkMeta(st); d.HasErrors() {
		return ps, false, d
	}
	keys, each, diags := s.forEach(st)
	if diags.HasErrors() {
		return ps, false, diags
	}
	if keys == nil && st.ForEach != nil {
		// The set of instances depends on earlier steps.
		ps.Instances = append(ps.Instances, plan.Instance{Address: st.Address() + "[*]", Action: plan.ActionDeferred,
			Irreversible: steps.MayBeIrreversible(t),
			Notes:        []string{"for_each depends on values known only at apply"}})
		return ps, true, diags
	}
	// A fan-out of a type that observes many objects at once is observed
	// in a few requests (engine/bulk.go).
	pre, err := s.prefetch(ctx, st, info, keys, each)
	if err != nil {
		return ps, false, append(diags, stepError(st, "Cannot observe "+st.Address(), err))
	}
	wrote := false
	for _, key := range keys {
		addr := instanceAddr(st, key)
		var eachV cty.Value
		if st.ForEach != nil {
			eachV = eachValue(key, each[key])
		}
		in := plan.Instance{Address: addr, Key: key}
		cfg, d := s.decodeInstance(st, eachV, addr, pre)
		diags = append(diags, d...)
		if d.HasErrors() {
			return ps, false, diags
		}
		if !cfg.IsWhollyKnown() {
			in.Action = plan.ActionDeferred
			in.Irreversible = steps.MayBeIrreversible(t)
			in.Notes = append(in.Notes, "arguments depend on earlier steps; observed and decided at apply")
			ps.Instances = append(ps.Instances, in)
			wrote = true
			continue
		}
		obs, err := s.observeInstance(ctx, st, info, cfg, key, addr, pre)
		if err != nil {
			return ps, false, append(diags, stepError(st, "Cannot observe "+addr, err))
		}
		secrets := secretStrings(cfg)
		in.Object = s.safeObject(obs.Object, secrets)
		// What an instance shows of its object; an unchanged one shows
		// nothing and skips it.
		record := func() {
			in.Fingerprint = s.fingerprint(obs.Value)
			shown, _ := scrub(obs.Value, secrets)
			in.Observed = plan.EncodeValue(lang.Redact(shown, false))
		}
		self := instanceValue(obs.Value, cty.DynamicVal, "")
		for _, c := range st.Preconditions {
			res, d := lang.EvalCheck(s.sc.child(eachV, self), c, "Precondition")
			if res == lang.Fail && pending {
				// An earlier step changes the world first; apply decides.
				in.Notes = append(in.Notes, "precondition is false now; it is checked again at apply, after the earlier steps: "+s.secrets.scrub(firstDetail(d)))
				continue
			}
			diags = append(diags, d...)
		}
		if diags.HasErrors() {
			return ps, false, diags
		}
		change, err := s.diff(ctx, t, s.call(st, info, cfg, key, addr, nil), obs)
		if err != nil {
			if pending {
				in.Action = plan.ActionDeferred
				in.Irreversible = reversibility(t, s.call(st, info, cfg, key, addr, nil)) == steps.Irreversible
				in.Notes = append(in.Notes, "not decidable before the earlier steps run: "+s.secrets.scrub(err.Error()))
				record()
				ps.Instances = append(ps.Instances, in)
				wrote = true
				continue
			}
			return ps, false, append(diags, stepError(st, "Cannot plan "+addr, err))
		}
		in.Action = string(change.Action)
		if first, ok := writers[obs.Object]; ok && obs.Object != "" {
			// What is observed now is the object before an earlier step
			// changes it: the change shown is a guess, and "already so"
			// would be wrong. Apply decides on the object as it is then.
			if change.Action == steps.NoOp {
				in.Action = plan.ActionDeferred
				in.Irreversible = reversibility(t, s.call(st, info, cfg, key, addr, nil)) == steps.Irreversible
			}
			in.Notes = append(in.Notes, fmt.Sprintf("%s changes this object first; what is shown is from the object as it is now, and apply decides again after that step", first))
			wrote = true
		}
		if change.Action != steps.NoOp && change.Action != steps.Read {
			wrote = true
			in.Irreversible = reversibility(s.types[st.Type], s.call(st, info, cfg, key, addr, nil)) == steps.Irreversible
			if _, ok := writers[obs.Object]; !ok && obs.Object != "" && st.Await == nil {
				writers[obs.Object] = addr
			}
		}
		if u, ok := s.unchanged(st, in, obs.Value, cfg); ok {
			// Nothing to show and nothing to write: the plan keeps the
			// key, the object and what apply checks again, and none of
			// the encodings below, which a fan-out of 100,000 instances
			// would spend most of its planning on.
			ps.Unchanged = append(ps.Unchanged, u)
			continue
		}
		record()
		masked := sensitivePaths(cfg)
		before, _ := scrub(change.Before, secrets)
		after, _ := scrub(change.After, secrets)
		in.Before = plan.EncodeValue(maskAttrs(before, masked))
		in.After = plan.EncodeValue(maskAttrs(after, masked))
		ps.Instances = append(ps.Instances, in)
	}
	return ps, wrote, diags
}

// forEach evaluates a step's for_each. It returns the sorted keys and each
// key's value; nil keys with no error means unknown. A step without
// for_each has the single key "".
func (s *session) forEach(st *runbook.Step) ([]string, map[string]cty.Value, hcl.Diagnostics) {
	if st.ForEach == nil {
		return []string{""}, nil, nil
	}
	v, diags := st.ForEach.Value(s.sc.ctx())
	if diags.HasErrors() {
		return nil, nil, diags
	}
	if sensitiveKeys(v) {
		return nil, nil, append(diags, sensitiveForEach(st))
	}
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return nil, nil, diags
	}
	bad := func(detail string) hcl.Diagnostics {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid for_each argument",
			Detail: detail, Subject: st.ForEach.Range().Ptr()})
	}
	if v.IsNull() {
		return nil, nil, bad("for_each must not be null.")
	}
	each := map[string]cty.Value{}
	ty := v.Type()
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for k, ev := range v.AsValueMap() {
			each[k] = ev
		}
	case ty.IsSetType() || ty.IsListType() || ty.IsTupleType():
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if ev.IsNull() || ev.Type() != cty.String {
				return nil, nil, bad("for_each over a set or list needs strings; for rows of objects use a map, e.g. { for r in rows : r.upn => r }.")
			}
			k := ev.AsString()
			if _, dup := each[k]; dup {
				return nil, nil, bad(fmt.Sprintf("The key %q appears twice; each instance needs a distinct key.", k))
			}
			each[k] = ev
		}
	default:
		return nil, nil, bad(fmt.Sprintf("for_each needs a map or a set of strings, not %s.", ty.FriendlyName()))
	}
	keys := make([]string, 0, len(each))
	for k := range each {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, each, diags
}

func instanceAddr(st *runbook.Step, key string) string {
	if st.ForEach == nil {
		return st.Address()
	}
	return addrs.Keyed(st.Address(), key)
}

// call builds the steps.Call for an instance from its arguments, marks
// and all: the step gets them unmarked in Config, and as it may print them
// in Shown.
func (s *session) call(st *runbook.Step, info steps.Info, cfg cty.Value, key, addr string, target any) steps.Call {
	plain, marks := cfg.UnmarkDeepWithPaths()
	shown, secret := plain, false
	if len(marks) > 0 || schemaSecret(info.Schema, plain) {
		// Only then can an argument hold a secret: the common case of a
		// call with no sensitive value costs one walk of its arguments.
		names := secretArgs(info.Schema, cfg)
		s.secrets.add(cfg)
		shown, secret = lang.Redact(taint(cfg, names), false), len(names) > 0
	}
	return steps.Call{
		Address: addr, Key: key, Config: plain, Target: target,
		Run: &runContext{s: s}, Log: s.logw, Sleep: s.e.Sleep,
		Shown: shown, HasSecret: secret,
	}
}

// schemaSecret reports whether an argument the schema calls sensitive is
// given.
func schemaSecret(schema steps.Schema, plain cty.Value) bool {
	if plain == cty.NilVal || !plain.IsKnown() || plain.IsNull() || !plain.Type().IsObjectType() {
		return false
	}
	for name, a := range schema {
		if a.Sensitive && plain.Type().HasAttribute(name) && !plain.GetAttr(name).IsNull() {
			return true
		}
	}
	return false
}

// reflectedBy names what of a call's observation, change and result holds
// a secret: the attributes its secret arguments reflect. Shown tells which
// arguments hold one.
func reflectedBy(info steps.Info, call steps.Call) map[string]bool {
	secret := map[string]bool{}
	if !call.HasSecret || call.Shown == cty.NilVal || !call.Shown.Type().IsObjectType() || call.Shown.IsNull() {
		return secret
	}
	for name := range info.Schema {
		if !call.Shown.Type().HasAttribute(name) {
			continue
		}
		_ = cty.Walk(call.Shown.GetAttr(name), func(_ cty.Path, v cty.Value) (bool, error) {
			if v.IsKnown() && !v.IsNull() && v.Type() == cty.String && v.AsString() == steps.Redacted {
				secret[name] = true
				return false, nil
			}
			return true, nil
		})
	}
	return reflected(info.Schema, secret)
}

// observeOnce observes with the step type and marks what reflects a
// secret argument sensitive; the secrets it saw join the session's.
func (s *session) observeOnce(ctx context.Context, t steps.DataSource, call steps.Call) (steps.Observation, error) {
	obs, err := t.Observe(ctx, call)
	if err != nil {
		return obs, err
	}
	return s.observed(t, call, obs), nil
}

// diff is the step type's Diff, with what reflects a secret marked.
func (s *session) diff(ctx context.Context, t steps.Type, call steps.Call, obs steps.Observation) (steps.Change, error) {
	ch, err := t.Diff(ctx, call, obs)
	if err != nil {
		return ch, err
	}
	refl := reflectedBy(t.Info(), call)
	ch.Before, ch.After = taint(ch.Before, refl), taint(ch.After, refl)
	return ch, nil
}

// applyStep is the step type's Apply, with what reflects a secret marked
// in the result.
func (s *session) applyStep(ctx context.Context, t steps.Type, call steps.Call, ch steps.Change) (steps.Result, error) {
	res, err := t.Apply(ctx, call, ch)
	refl := reflectedBy(t.Info(), call)
	res.Value = taint(res.Value, refl)
	if res.Change != nil {
		c := *res.Change
		c.Before, c.After = taint(c.Before, refl), taint(c.After, refl)
		res.Change = &c
	}
	s.secrets.add(res.Value)
	return res, err
}

// observe opens the step's target and observes, retrying transient errors
// under the step's retry policy.
func (s *session) observe(ctx context.Context, st *runbook.Step, info steps.Info, cfg cty.Value, key, addr string) (steps.Observation, error) {
	tgt, err := s.targetFor(ctx, st, info)
	if err != nil {
		return steps.Observation{}, err
	}
	pol, _ := s.retryPolicy(st)
	var obs steps.Observation
	call := s.call(st, info, cfg, key, addr, tgt)
	err = pol.do(ctx, func(ctx context.Context) error {
		var err error
		obs, err = s.observeOnce(ctx, s.types[st.Type], call)
		return err
	})
	return obs, err
}

// unchanged is in as a row of plan.Step.Unchanged, when it is one: an
// instance of a fan-out that changes nothing and has no notes. Its
// fingerprint covers the object observed and the instance's arguments
// (see unchangedFingerprint); ok is false when it cannot be computed, and
// the instance is then recorded whole.
func (s *session) unchanged(st *runbook.Step, in plan.Instance, obs, cfg cty.Value) (plan.Unchanged, bool) {
	if st.ForEach == nil || in.Action != plan.ActionNoOp || len(in.Notes) > 0 || in.Irreversible {
		return plan.Unchanged{}, false
	}
	fp := s.unchangedFingerprint(obs, cfg)
	if fp == "" {
		return plan.Unchanged{}, false
	}
	return plan.Unchanged{Key: in.Key, Object: in.Object, Fingerprint: fp}, true
}

// unchangedFingerprint is the fingerprint of an unchanged instance: the
// SHA-256 (a keyed MAC when either holds a sensitive value, as fingerprint)
// of the object observed and the arguments the instance was decided with.
// Apply computes it again: a different object, or different arguments (a
// row of a CSV edited after review), is drift, even when the instance
// would still change nothing. "" when either cannot be encoded.
func (s *session) unchangedFingerprint(obs, cfg cty.Value) string {
	if obs == cty.NilVal || cfg == cty.NilVal {
		return ""
	}
	return s.fingerprint(cty.TupleVal([]cty.Value{cty.StringVal("rebind unchanged instance"), obs, cfg}))
}

// fingerprint is the SHA-256 of a value's typed JSON; of a value that
// holds a secret, the HMAC-SHA256 under the engine's key ("hmac:..."),
// since a plain hash of a secret can be tested against guesses.
func (s *session) fingerprint(v cty.Value) string {
	if fp, ok := plainFingerprint(v); ok {
		return fp // no mark (so no secret) and wholly known
	}
	keyed := lang.HasSensitive(v)
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return ""
	}
	tb, _ := ctyjson.MarshalType(v.Type())
	vb, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return ""
	}
	if keyed {
		s.keyed.Store(true)
		return "hmac:" + s.e.mac(append(append(tb, 0), vb...))
	}
	h := sha256.New()
	h.Write(tb)
	h.Write(vb)
	return hex.EncodeToString(h.Sum(nil))
}

// sensitivePaths lists the top-level attributes of cfg that carry a
// sensitive mark (set from a sensitive variable).
func sensitivePaths(cfg cty.Value) map[string]bool {
	out := map[string]bool{}
	if cfg == cty.NilVal || cfg.IsNull() || !cfg.IsKnown() || !cfg.Type().IsObjectType() {
		return out
	}
	for name := range cfg.Type().AttributeTypes() {
		if lang.HasSensitive(cfg.GetAttr(name)) {
			out[name] = true
		}
	}
	return out
}

// maskAttrs replaces named attributes of an object with "(sensitive)".
func maskAttrs(v cty.Value, names map[string]bool) cty.Value {
	if len(names) == 0 || v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() {
		return lang.Redact(v, false)
	}
	m := v.AsValueMap()
	for n := range names {
		if _, ok := m[n]; ok {
			m[n] = cty.StringVal("(sensitive)")
		}
	}
	return lang.Redact(cty.ObjectVal(m), false)
}

func stepError(st *runbook.Step, summary string, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: err.Error() + ".", Subject: st.DeclRange.Ptr()}
}

// firstDetail is the first diagnostic's detail, or its summary when it
// has none.
func firstDetail(d hcl.Diagnostics) string {
	if len(d) == 0 {
		return ""
	}
	if d[0].Detail != "" {
		return d[0].Detail
	}
	return d[0].Summary
}

// LocalUser is the operating-system account running rebind, recorded as a
// plan's author and an approval's signer when none is given; "unknown" when
// the account cannot be looked up.
func LocalUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// reversibility is a call's reversibility: the type's, unless the type
// decides per call (exec without undo is irreversible).
func reversibility(t steps.DataSource, call steps.Call) steps.Reversibility {
	if r, ok := t.(steps.CallReversibility); ok {
		return r.ReversibilityOf(call)
	}
	return t.Info().Reversibility
}

// sensitiveForEach refuses a for_each whose keys hold a secret: the keys
// become instance addresses, which every plan, journal record and log line
// shows.
func sensitiveForEach(st *runbook.Step) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid for_each argument",
		Detail:  "for_each's keys hold a sensitive value (or one derived from it). Each key becomes part of an instance's address, which plans, the journal and the log show, so a secret cannot be one. Iterate over something that is not secret, such as a map whose values hold the secrets.",
		Subject: st.ForEach.Range().Ptr()}
}

// sensitiveKeys reports whether the keys a for_each value yields hold a
// secret: the value as a whole is sensitive, or (for a set or list of
// strings, whose elements are the keys) one of its elements is. A map's
// values may be secrets; its keys cannot be marked.
func sensitiveKeys(v cty.Value) bool {
	if v.HasMark(lang.Sensitive) {
		return true
	}
	u, _ := v.Unmark()
	if !u.IsKnown() || u.IsNull() {
		return false
	}
	ty := u.Type()
	if ty.IsSetType() || ty.IsListType() || ty.IsTupleType() {
		for it := u.ElementIterator(); it.Next(); {
			if _, e := it.Element(); lang.HasSensitive(e) {
				return true
			}
		}
	}
	return false
}
