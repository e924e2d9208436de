package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"

	"github.com/rebind-dev/rebind/engine/approval"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/internal/mapkeys"
)

// Report is how an Apply, a Resume or a Rollback ended.
type Report struct {
	// RunID is the run's id; "" when no run was created (Refused).
	RunID string
	// Status is the status the run was left in, one of the journal's
	// (journal.RunStatus.Valid), as `rebind runs` shows it; "" when no
	// run was created (Refused).
	Status journal.RunStatus
	// Failures lists the instances that failed, with their errors.
	Failures []InstanceError
	// Drift lists what changed since the plan (apply refused).
	Drift []Drift
	// Reverted and NotReverted list rollback results, newest first. Each
	// NotReverted entry has diagnostics: why, where the step is in the
	// runbook and, when the journal has them, the change's values.
	Reverted    []string
	NotReverted []InstanceError
	// Paused is the message of the step a run paused at, and PausedAt its
	// address.
	Paused   string
	PausedAt string
	// InDoubt lists actions a person must settle before a resume.
	InDoubt []string
	// Interrupted says why the run was stopped from outside (a signal, a
	// cancelled context) before it ended; "" when it was not. A write in
	// flight then is left in doubt, as after a crash.
	Interrupted string
	// Applied counts instances written; Unchanged those already so.
	Applied, Unchanged int
}

// Refused reports whether Apply refused the plan before creating a run,
// because what it observed changed since the plan was made (Drift says
// what).
func (r *Report) Refused() bool { return r.RunID == "" && len(r.Drift) > 0 }

// InstanceError is one instance's failure.
type InstanceError struct {
	Address string
	Err     string
	// Diagnostics are the failure's diagnostics, with their source
	// ranges and the values involved, when it was a runbook expression
	// that failed (a precondition, a postcondition, an argument); Err is
	// then their text on one line. For a change rollback did not revert
	// they say why, with the step's range and the change's values.
	Diagnostics []Diagnostic
}

// Drift is one observed object that changed since planning.
type Drift struct {
	Address string
	Object  string
	// Attributes lists "name: before -> now" for each changed attribute.
	Attributes []string
}

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// Saved is set when the plan was read from a file (a reviewed plan):
	// the journal then refuses a second run of the same digest.
	Saved bool
	// Author is recorded with the run.
	Author string
	// Policy is the applier's approval policy; approval.Default() when
	// nil. No plan can lower it.
	Policy *approval.Policy
	// Rehearsal applies without the approvals the plan needs: a rehearsal
	// against the lab tenant, whose data nobody must keep. It is refused
	// unless the engine is bound to a lab.
	Rehearsal bool
}

// Apply checks that the plan may run, re-observes everything it observed,
// refuses on drift, then runs the plan's runbook with a durable journal.
//
// Whether the plan may run is decided here, from what the applier trusts
// (engine/approval): the plan must agree with its own runbook sources and
// rebind's step types, must not have expired, and must carry the approvals
// the sources and opt.Policy require. Once the runbook is planned again,
// every field a reviewer saw must come out the same, or the plan is
// refused as drifted (an object changed) or altered (the plan's JSON was
// edited). No caller can apply a plan without these checks.
func (e *Engine) Apply(ctx context.Context, p *plan.Plan, in Inputs, opt ApplyOptions) (*Report, hcl.Diagnostics) {
	if e.Store == nil {
		panic("engine: Apply without a Store")
	}
	if p.Lab != e.Lab {
		return nil, hcl.Diagnostics{errDiag("Plan made against other targets",
			fmt.Errorf("the plan was made against %s, and this apply is bound to %s; apply it against the same targets", labName(p.Lab), labName(e.Lab)))}
	}
	if err := plan.CheckApplyVersion(p); err != nil {
		return nil, hcl.Diagnostics{errDiag("Plan refused", err)}
	}
	// The runbook the checks load from the plan's sources is the one that
	// runs.
	var rb *runbook.Runbook
	if opt.Rehearsal {
		if e.Lab == "" {
			return nil, hcl.Diagnostics{errDiag("Not a rehearsal", errors.New("a rehearsal applies without approvals, so it runs only against the lab tenant"))}
		}
		var err error
		if rb, err = approval.Consistent(p); err != nil {
			return nil, hcl.Diagnostics{errDiag("Plan refused", err)}
		}
	} else {
		r, err := approval.Check(p, opt.Policy, e.now())
		if err != nil {
			return nil, hcl.Diagnostics{errDiag("Plan refused", err)}
		}
		rb = r.Runbook
	}
	digest := ""
	if opt.Saved {
		digest = p.Digest()
		// A plan is applied at most once; say so before observing anything.
		runs, err := e.Store.Runs(ctx)
		if err != nil {
			return nil, hcl.Diagnostics{errDiag("Cannot read the journal", err)}
		}
		for _, r := range runs {
			if r.PlanDigest == digest {
				return nil, hcl.Diagnostics{errDiag("Plan already applied",
					fmt.Errorf("%w: run %s applied this plan (sha256:%s) and ended %s; make a new plan", journal.ErrPlanApplied, r.ID, digest, r.Status))}
			}
		}
	}
	if p.KeyID != "" && p.KeyID != e.KeyID() {
		return nil, hcl.Diagnostics{errDiag("Plan made with another state directory",
			fmt.Errorf("the plan holds sensitive values whose fingerprints are keyed with the key of another state directory (key %s; this one's is %s), so they cannot be checked for drift here; apply it with the --state-dir it was planned with, or plan again", p.KeyID, e.KeyID()))}
	}
	s, diags := e.sessionFromPlan(p, rb, in)
	if diags.HasErrors() {
		return nil, diags
	}
	defer s.close()
	rep, diags := s.applyPlan(ctx, p, digest, opt)
	return s.cleanReport(rep), s.secrets.scrubDiags(diags)
}

// applyPlan plans the runbook again in s, refuses on drift or alteration,
// and runs it.
func (s *session) applyPlan(ctx context.Context, p *plan.Plan, digest string, opt ApplyOptions) (*Report, hcl.Diagnostics) {
	e := s.e
	fresh, diags := s.plan(ctx, PlanOptions{Author: p.Author, forRun: true})
	if diags.HasErrors() {
		return nil, diags
	}
	if drift := compareObservations(p, fresh); len(drift) > 0 {
		return &Report{Drift: drift}, diags
	}
	if ms := approval.Compare(p, fresh); len(ms) > 0 {
		return nil, append(diags, errDiag("Plan refused", &approval.AlteredError{Mismatches: ms}))
	}
	// The run is created holding its objects, or not at all: a run refused
	// for a lock would hold none and could not be resumed safely. Creating
	// it is not cut short by an interrupt, which would leave it created but
	// unreported; the run then stops at its first step, as interrupted.
	run, err := e.Store.CreateRunLocking(context.WithoutCancel(ctx), journal.Run{
		Runbook: p.Runbook.Name, RunbookDigest: p.Runbook.Digest, PlanDigest: digest,
		Author: opt.Author, Dir: s.dir, Inputs: mustJSON(p.Inputs), Plan: p.CanonicalBytes(),
		Status: journal.StatusRunning,
	}, lockObjects(fresh))
	var le *journal.LockError
	if errors.As(err, &le) {
		return nil, append(diags, e.lockedDiag(ctx, le))
	}
	if err != nil {
		return nil, append(diags, errDiag("Cannot start the run", err))
	}
	s.runID = run.ID
	release, err := e.Store.Claim(run.ID)
	if err != nil {
		return nil, append(diags, errDiag("Cannot claim the run", err))
	}
	defer release()
	s.logf("Run %s started (%s).\n", run.ID, p.Runbook.Name)
	rep := s.execute(ctx, newReplay(), nil)
	return rep, diags
}

// labName names what a plan was made against.
func labName(u string) string {
	if u == "" {
		return "the real directories"
	}
	return "the lab at " + u
}

// lockedDiag explains an apply refused because another run holds one of
// its objects: which run, where it stands, and what ends it. A run keeps its
// objects until it succeeds or is rolled back, even when it stopped.
func (e *Engine) lockedDiag(ctx context.Context, le *journal.LockError) *hcl.Diagnostic {
	holder := "run " + le.HeldBy
	if h, err := e.Store.Run(ctx, le.HeldBy); err == nil {
		if h.User != "" || h.Host != "" {
			holder += fmt.Sprintf(" (started by %s on %s)", h.User, h.Host)
		}
		l, lerr := e.Store.Lease(ctx, h.ID)
		switch {
		case h.Status == journal.StatusRunning && lerr == nil && l.State == journal.LeaseHeld && !l.Expires.IsZero():
			holder += ", which is running in " + l.Holder
		case h.Status == journal.StatusRunning:
			holder += ", which is running (in another process, or it stopped in a crash)"
		case h.Error != "":
			holder += fmt.Sprintf(", which is %s (%s)", h.Status, h.Error)
		default:
			holder += ", which is " + string(h.Status)
		}
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Object locked by another run",
		Detail: fmt.Sprintf("%s is locked by %s. Nothing was written and no run was created. "+
			"A run keeps its objects until it succeeds or is rolled back: apply again once run %s has ended. "+
			"If it is not working in another process, finish it with `rebind resume %s` or undo it with `rebind rollback %s`.",
			le.Object, holder, le.HeldBy, le.HeldBy, le.HeldBy)}
}

// compareObservations lists what differs between the reviewed plan and the
// same runbook planned again now: an observed object that changed, an
// instance that appeared or disappeared (a row added to a CSV after
// review), or a change that is no longer the one reviewed (its action,
// before or after). Any of these means what would run is not what people
// approved.
func compareObservations(old, fresh *plan.Plan) []Drift {
	type entry struct {
		in        plan.Instance
		unchanged bool
	}
	now := map[string]entry{}
	var freshOrder []string
	for i := range fresh.Steps {
		for in, u := range fresh.Steps[i].All {
			now[in.Address] = entry{in, u}
			freshOrder = append(freshOrder, in.Address)
		}
	}
	seen := map[string]bool{}
	var out []Drift
	for i := range old.Steps {
		for in, wasUnchanged := range old.Steps[i].All {
			seen[in.Address] = true
			e, ok := now[in.Address]
			cur := e.in
			switch {
			case !ok:
				out = append(out, Drift{Address: in.Address, Object: in.Object, Attributes: []string{"the instance is gone: its for_each no longer yields it"}})
			case wasUnchanged || e.unchanged:
				// The plan records an instance that changes nothing by
				// a fingerprint of its object and arguments only.
				if d, drifted := unchangedDrift(in, wasUnchanged, cur, e.unchanged, fresh); drifted {
					out = append(out, d)
				}
			case in.Fingerprint != cur.Fingerprint:
				obj := in.Object
				if obj == "" { // an optional data block that found nothing at review
					obj = cur.Object
				}
				was := old.ObservedValue(in)
				if was.IsZero() {
					// Too large for the plan to store (plan.MaxStoredObject).
					out = append(out, Drift{Address: in.Address, Object: obj, Attributes: []string{fmt.Sprintf("what was observed changed since review (fingerprint %s -> %s); the plan stores only its fingerprint", short(in.Fingerprint), short(cur.Fingerprint))}})
					continue
				}
				out = append(out, Drift{Address: in.Address, Object: obj, Attributes: diffTrees(was.Tree(), fresh.ObservedValue(cur).Tree())})
			case in.Action != cur.Action || in.Before.String() != cur.Before.String() || in.After.String() != cur.After.String():
				d := Drift{Address: in.Address, Object: in.Object}
				if in.Action != cur.Action {
					d.Attributes = append(d.Attributes, fmt.Sprintf("planned action: %s -> %s", in.Action, cur.Action))
				}
				if in.After.String() != cur.After.String() {
					d.Attributes = append(d.Attributes, prefixAll("planned value ", diffTrees(in.After.Tree(), cur.After.Tree()))...)
				}
				if in.Before.String() != cur.Before.String() {
					d.Attributes = append(d.Attributes, prefixAll("value before ", diffTrees(in.Before.Tree(), cur.Before.Tree()))...)
				}
				out = append(out, d)
			}
		}
	}
	for _, addr := range freshOrder {
		if !seen[addr] {
			cur := now[addr].in
			out = append(out, Drift{Address: addr, Object: cur.Object, Attributes: []string{"a new instance that was not in the reviewed plan (its for_each yields more now)"}})
		}
	}
	return out
}

// unchangedDrift compares an instance of which the reviewed plan, the
// fresh one or both record only a fingerprint (plan.Unchanged).
func unchangedDrift(in plan.Instance, wasUnchanged bool, cur plan.Instance, isUnchanged bool, fresh *plan.Plan) (Drift, bool) {
	d := Drift{Address: in.Address, Object: in.Object}
	if d.Object == "" {
		d.Object = cur.Object
	}
	switch {
	case wasUnchanged && isUnchanged:
		if in.Fingerprint == cur.Fingerprint {
			return d, false
		}
		d.Attributes = []string{fmt.Sprintf("the object or the instance's arguments changed since review (fingerprint %s -> %s); it still changes nothing, but the plan records only the fingerprint of an unchanged instance, so plan again to review it", short(in.Fingerprint), short(cur.Fingerprint))}
	case wasUnchanged:
		d.Attributes = append(d.Attributes, fmt.Sprintf("planned action: %s -> %s", in.Action, cur.Action))
		if cur.Before.String() != cur.After.String() {
			d.Attributes = append(d.Attributes, prefixAll("now ", diffTrees(cur.Before.Tree(), cur.After.Tree()))...)
		}
		if obs := fresh.ObservedValue(cur); !obs.IsZero() {
			d.Attributes = append(d.Attributes, "observed now: "+jsonShort(obs.Tree()))
		}
	default:
		d.Attributes = append(d.Attributes, fmt.Sprintf("planned action: %s -> %s (it is already so now)", in.Action, cur.Action))
	}
	return d, true
}

// short cuts a fingerprint for a message.
func short(fp string) string {
	if len(fp) > 16 {
		return fp[:16] + "..."
	}
	return fp
}

func prefixAll(p string, l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = p + s
	}
	return out
}

// diffTrees names each top-level attribute that differs.
func diffTrees(a, b any) []string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		return []string{fmt.Sprintf("%s -> %s", jsonShort(a), jsonShort(b))}
	}
	out := []string{}
	for _, k := range mapkeys.Union(am, bm) {
		if a, b := jsonShort(am[k]), jsonShort(bm[k]); a != b {
			out = append(out, fmt.Sprintf("%s: %s -> %s", k, a, b))
		}
	}
	return out
}

func lockObjects(p *plan.Plan) []string {
	seen := map[string]bool{}
	var out []string
	for i := range p.Steps {
		if p.Steps[i].Mode == "data" {
			continue
		}
		for in := range p.Steps[i].All {
			if in.Object != "" && !seen[in.Object] {
				seen[in.Object] = true
				out = append(out, in.Object)
			}
		}
	}
	sort.Strings(out)
	return out
}

// jsonShort renders a plain tree compactly for messages.
func jsonShort(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
