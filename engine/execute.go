package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/addrs"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

// execute walks the steps. Instances the replay shows as done are not
// touched again; in-doubt ones are observed and settled. decide holds a
// person's decisions for in-doubt actions (address -> "done" | "rerun").
func (s *session) execute(ctx context.Context, rp *replay, decide map[string]string) *Report {
	e := s.e
	rep := &Report{RunID: s.runID}
	finish := func(status journal.RunStatus, msg string) *Report {
		rep.Status = status
		// How the run ended is written even when it ends because ctx was
		// cancelled: it is what a resume, and the operator, read.
		jctx := context.WithoutCancel(ctx)
		s.recordPacing(jctx)
		if err := e.Store.Flush(jctx); err != nil {
			msg = strings.TrimSpace(msg + " (journal flush failed: " + err.Error() + ")")
		}
		if err := e.Store.SetStatus(jctx, s.runID, status, s.secrets.scrub(msg)); lostRun(err) {
			// Another process works the run now: how this one ended is
			// not how the run ended.
			rep.Status = journal.StatusFailed
			rep.Failures = append(rep.Failures, InstanceError{Err: err.Error()})
			return rep
		}
		if status == journal.StatusSucceeded || status == journal.StatusRolledBack {
			_ = e.Store.Unlock(jctx, s.runID)
		}
		return rep
	}
	diags := s.evalEarly(ctx, func(d *runbook.Step) hcl.Diagnostics {
		return s.runData(ctx, d, rp)
	})
	if diags.HasErrors() && ctx.Err() != nil {
		rep.Interrupted = context.Cause(ctx).Error()
		return finish(journal.StatusFailed, "interrupted before the first step ("+rep.Interrupted+")")
	}
	if diags.HasErrors() {
		rep.Failures = append(rep.Failures, InstanceError{Err: diagText(diags), Diagnostics: toDiagnostics(diags, s.secrets.scrub)})
		return finish(journal.StatusFailed, diagText(diags))
	}
	for _, st := range s.rb.Steps {
		out := s.runStep(ctx, st, rp, decide, rep)
		switch {
		case out.paused != "":
			rep.Paused, rep.PausedAt = out.paused, out.pausedAt
			s.logf("Run %s paused: %s\n", s.runID, out.paused)
			return finish(journal.StatusPaused, out.paused)
		case out.interrupted:
			rep.InDoubt, rep.Interrupted = out.inDoubt, context.Cause(ctx).Error()
			msg := fmt.Sprintf("interrupted at %s (%s)", st.Address(), rep.Interrupted)
			if len(out.inDoubt) > 0 {
				msg += "; in doubt: " + strings.Join(out.inDoubt, ", ")
			}
			s.logf("Run %s interrupted (%s).\n", s.runID, rep.Interrupted)
			return finish(journal.StatusFailed, msg)
		case len(out.inDoubt) > 0:
			rep.InDoubt = out.inDoubt
			return finish(journal.StatusFailed, "in doubt: "+strings.Join(out.inDoubt, ", "))
		case out.failed:
			// An interrupt never reaches here: it ends the run above.
			mode := st.OnFailure
			if mode == runbook.OnFailureDefault {
				mode = runbook.OnFailureAbort
				_ = e.Store.Flush(ctx)
				if recs, err := e.Store.Records(ctx, s.runID); err == nil {
					if now, err := fold(recs); err == nil && s.allRevertible(now) {
						mode = runbook.OnFailureRollback
					}
				}
				if mode == runbook.OnFailureAbort {
					s.logf("%s failed; not rolling back on its own because a completed step cannot be reverted (`rebind rollback %s` reverts what can be).\n", st.Address(), s.runID)
				}
			}
			switch mode {
			case runbook.OnFailureContinue:
				s.logf("%s failed; on_failure = continue.\n", st.Address())
				continue
			case runbook.OnFailureRollback:
				s.logf("%s failed; rolling back completed steps.\n", st.Address())
				_ = e.Store.Flush(ctx)
				status := s.rollback(ctx, rep)
				return finish(status, "failed at "+st.Address()+"; rolled back")
			default:
				return finish(journal.StatusFailed, "failed at "+st.Address())
			}
		}
		if d := s.refreshStepLocals(); d.HasErrors() {
			rep.Failures = append(rep.Failures, InstanceError{Address: st.Address(), Err: diagText(d), Diagnostics: toDiagnostics(d, s.secrets.scrub)})
			return finish(journal.StatusFailed, diagText(d))
		}
	}
	if len(rep.Failures) > 0 {
		return finish(journal.StatusSucceeded, fmt.Sprintf("finished with %d tolerated failures", len(rep.Failures)))
	}
	return finish(journal.StatusSucceeded, "")
}

// lostRun reports whether a journal write was refused because this process
// no longer holds the run (a shared journal whose lease ran out).
func lostRun(err error) bool {
	return errors.Is(err, journal.ErrLeaseLost) || errors.Is(err, journal.ErrBusy)
}

// allRevertible reports whether every write the run completed can be
// reverted, which makes rollback the default on failure.
func (s *session) allRevertible(rp *replay) bool {
	for _, addr := range rp.order {
		st := rp.inst[addr]
		if !st.done() || st.reverted {
			continue
		}
		od, err := st.outcome()
		if err != nil {
			return false
		}
		if !isWrite(od.Action) {
			continue
		}
		t, ok := steps.Lookup(addrs.TypeOf(addr))
		if !ok {
			return false
		}
		if _, ok := t.(steps.Reverter); !ok {
			return false
		}
		cfg, err := decodeTyped(od.Config)
		if err != nil {
			return false
		}
		cfg, _ = cfg.UnmarkDeep()
		if reversibility(t, steps.Call{Address: addr, Key: od.Key, Config: cfg}) == steps.Irreversible {
			return false
		}
	}
	return true
}

func isWrite(a string) bool {
	switch steps.Action(a) {
	case steps.Create, steps.Update, steps.Delete, steps.Run:
		return true
	}
	return false
}

type stepOutcome struct {
	failed   bool
	paused   string
	pausedAt string
	inDoubt  []string
	// interrupted is set when the run's context ended during the step.
	interrupted bool
}

// runStep runs all instances of a step and records its value in scope.
func (s *session) runStep(ctx context.Context, st *runbook.Step, rp *replay, decide map[string]string, rep *Report) stepOutcome {
	e := s.e
	keys, each, diags := s.forEach(st)
	if diags.HasErrors() || keys == nil {
		msg := "for_each is not known at apply"
		if diags.HasErrors() {
			msg = diagText(diags)
		}
		rep.Failures = append(rep.Failures, InstanceError{Address: st.Address(), Err: msg, Diagnostics: toDiagnostics(diags, s.secrets.scrub)})
		return stepOutcome{failed: true}
	}
	allowed := 0
	if st.MaxErrors != nil {
		count, percent, d := lang.ParseMaxErrors(s.sc.ctx(), st.MaxErrors)
		if d.HasErrors() {
			rep.Failures = append(rep.Failures, InstanceError{Address: st.Address(), Err: diagText(d), Diagnostics: toDiagnostics(d, s.secrets.scrub)})
			return stepOutcome{failed: true}
		}
		allowed = count
		if percent > 0 {
			allowed = int(math.Floor(percent / 100 * float64(len(keys))))
		}
	}
	width := e.DefaultConcurrency
	if width <= 0 {
		width = 4
	}
	if st.MaxConcurrency != nil {
		n, err := s.maxConcurrency(st)
		if err != nil {
			rep.Failures = append(rep.Failures, InstanceError{Address: st.Address(), Err: err.Error()})
			return stepOutcome{failed: true}
		}
		width = n
	}
	if st.ForEach == nil {
		width = 1
	}

	var (
		mu       sync.Mutex
		failures int
		out      stepOutcome
		values   = map[string]cty.Value{}
		wg       sync.WaitGroup
		sem      = make(chan struct{}, width)
	)
	// What a resume takes from the journal for the instances done before:
	// their values, read for the whole step at once, unless no expression
	// reads the step (then not at all).
	reads := s.rb.ReferencesStep(st.Type, st.Name)
	if reads && rp != nil && rp.load != nil {
		var before []*instState
		for _, key := range keys {
			if p := rp.inst[instanceAddr(st, key)]; p.done() {
				before = append(before, p)
			}
		}
		if err := rp.prefetch(before); err != nil {
			rep.Failures = append(rep.Failures, InstanceError{Address: st.Address(), Err: err.Error()})
			return stepOutcome{failed: true}
		}
	}
	s.emit(Event{Kind: StepStarted, Step: st.Address(), Total: len(keys), FanOut: st.ForEach != nil})
	defer s.emit(Event{Kind: StepFinished, Step: st.Address()})
	for _, key := range keys {
		mu.Lock()
		stop := failures > allowed || out.paused != "" || len(out.inDoubt) > 0
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		if !reads {
			if addr := instanceAddr(st, key); rp.inst[addr].done() {
				// Done before, and no expression reads the step: nothing
				// to run, read or keep (a resume passes 100,000 of these).
				mu.Lock()
				rep.Unchanged++ // as the report always counted them
				mu.Unlock()
				s.emit(Event{Kind: InstanceDone, Step: st.Address(), Instance: addr, Outcome: OutcomeDoneBefore})
				continue
			}
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(key string) {
			defer func() { <-sem; wg.Done() }()
			var eachV cty.Value
			if st.ForEach != nil {
				eachV = eachValue(key, each[key])
			}
			r := s.runInstance(ctx, st, key, eachV, rp, decide)
			var oc Outcome
			mu.Lock()
			switch {
			case r.paused != "":
				out.paused, out.pausedAt = r.paused, r.addr
				oc = OutcomePaused
			case r.inDoubt:
				out.inDoubt = append(out.inDoubt, r.addr)
				oc = OutcomeInDoubt
			case r.interrupted:
				// Neither done nor failed: a resume takes it up.
				oc = OutcomeInterrupted
			case r.err != nil:
				failures++
				rep.Failures = append(rep.Failures, InstanceError{Address: r.addr, Err: r.err.Error(), Diagnostics: r.diags})
				values[key] = instanceValue(cty.NilVal, cty.NilVal, "failed")
				oc = OutcomeFailed
			default:
				values[key] = r.value
				switch {
				case r.before:
					rep.Unchanged++ // as the report always counted them
					oc = OutcomeDoneBefore
				case r.wrote:
					rep.Applied++
					oc = OutcomeApplied
				default:
					rep.Unchanged++
					oc = OutcomeUnchanged
				}
			}
			mu.Unlock()
			s.emit(Event{Kind: InstanceDone, Step: st.Address(), Instance: r.addr, Outcome: oc})
		}(key)
	}
	wg.Wait()
	if ctx.Err() != nil && out.paused == "" {
		out.interrupted = true
	}
	switch {
	case !reads:
		// No expression reads it (setStep would drop it).
	case st.ForEach == nil:
		if v, ok := values[""]; ok {
			s.sc.setStep(st.Type, st.ScopeName(), v)
		}
	default:
		s.sc.setStep(st.Type, st.ScopeName(), cty.ObjectVal(values))
	}
	if failures > allowed {
		out.failed = true
	}
	if failures > 0 && !out.failed {
		s.logf("%s: %d of %d instances failed, within max_errors = %d.\n", st.Address(), failures, len(keys), allowed)
	}
	return out
}

type instResult struct {
	addr  string
	value cty.Value
	wrote bool
	err   error
	// diags are err's diagnostics, kept with their ranges and values,
	// when a runbook expression failed.
	diags   []Diagnostic
	paused  string
	inDoubt bool
	// interrupted is set when the run was stopped from outside before the
	// instance was done; a write in flight is then in doubt in the journal.
	interrupted bool
	// before is set when the run had done the instance before it stopped
	// (a resume takes its recorded value and touches nothing).
	before bool
}

// runInstance takes one instance through observe, preconditions, diff,
// intent, apply, outcome and postconditions.
func (s *session) runInstance(ctx context.Context, st *runbook.Step, key string, eachV cty.Value, rp *replay, decide map[string]string) instResult {
	e := s.e
	t := s.stepType(st)
	info := t.Info()
	addr := instanceAddr(st, key)
	res := instResult{addr: addr}
	prior := rp.inst[addr]

	// Done before: take the recorded value, touch nothing.
	if prior.done() {
		od, err := prior.outcome()
		var v cty.Value
		if err == nil {
			v, err = od.value()
		}
		if err != nil {
			res.err = fmt.Errorf("journal: %w", err)
			return res
		}
		res.value, res.before = v, true
		return res
	}

	if st.Timeout != nil {
		d, diags := lang.ParseDuration(s.sc.ctx(), st.Timeout, "timeout")
		if diags.HasErrors() {
			res.err, res.diags = diagsError(diags), toDiagnostics(diags, s.secrets.scrub)
			return res
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, stepTimeout(d))
		defer cancel()
	}
	marked, diags := s.decode(st, s.sc.child(eachV, cty.NilVal))
	if diags.HasErrors() {
		res.err, res.diags = diagsError(diags), toDiagnostics(diags, s.secrets.scrub)
		return res
	}
	if !marked.IsWhollyKnown() {
		res.err = fmt.Errorf("an argument is still unknown at apply; an earlier step it depends on did not produce it")
		return res
	}
	tgt, err := s.targetFor(ctx, st, info)
	if err != nil {
		res.err = err
		return res
	}
	call := s.call(st, info, marked, key, addr, tgt)
	if s.quiet(addr) {
		// What a step type says of one instance of a fan-out (a command
		// started, a cycle polled) is a per-instance line too.
		call.Log = io.Discard
	}
	call.Refresh = func(ctx context.Context) (cty.Value, error) {
		if d := s.rereadData(ctx); d.HasErrors() {
			return cty.NilVal, diagsError(d)
		}
		v, d := s.decode(st, s.sc.child(eachV, cty.NilVal))
		if d.HasErrors() {
			return cty.NilVal, diagsError(d)
		}
		v, _ = v.UnmarkDeep()
		return v, nil
	}
	pol, _ := s.retryPolicy(st)
	pol.throttled = func(after time.Duration) {
		s.emit(Event{Kind: Throttled, Step: st.Address(), Instance: addr, Wait: after})
	}
	in := &instance{st: st, t: t, call: call, pol: pol, cfg: storedConfig(info.Schema, marked), eachV: eachV, secrets: secretStrings(marked)}

	obs, err := s.observeCall(ctx, t, call, pol)
	if err != nil {
		return s.fail(ctx, res, st, fmt.Errorf("observe: %w", err))
	}
	change, err := s.diff(ctx, t, call, obs)
	if err != nil {
		return s.fail(ctx, res, st, err)
	}

	// In doubt: the intent was durable, the outcome was not. Settle it.
	if prior.inDoubt() {
		switch {
		case change.Action == steps.NoOp:
			s.decision(ctx, addr, "already-so", "observed again after the interruption: already as intended")
			return s.done(ctx, in, res, obs, change, steps.Result{}, false)
		case info.Kind == steps.KindAction && !repeatSafe(t, call):
			switch decide[addr] {
			case "done":
				s.decision(ctx, addr, "marked-done", "a person said the action had completed")
				return s.done(ctx, in, res, obs, steps.Change{Action: steps.Run}, steps.Result{}, false)
			case "rerun":
				s.decision(ctx, addr, "rerun", "a person asked to run the action again")
			default:
				res.inDoubt = true
				s.logf("%s was in doubt when the run stopped, and the action is not safe to repeat.\n", addr)
				return res
			}
		default:
			s.decision(ctx, addr, "applied-again", "observed again after the interruption: not yet so, applying again")
		}
	}

	self := instanceValue(obs.Value, cty.NullVal(cty.DynamicPseudoType), string(change.Action))
	for _, c := range st.Preconditions {
		r, d := lang.EvalCheck(s.sc.child(eachV, self), c, "Precondition")
		if d.HasErrors() || r == lang.Fail {
			return s.fail(ctx, res, st, diagsError(d))
		}
	}
	if change.Action == steps.NoOp || change.Action == steps.Read {
		return s.done(ctx, in, res, obs, change, steps.Result{}, false)
	}

	if st.Await != nil {
		return s.await(ctx, in, res, change)
	}

	secrets := in.secrets
	cd, err := encodeChange(change, secrets)
	if err != nil {
		return s.fail(ctx, res, st, err)
	}
	if ctx.Err() != nil {
		return s.fail(ctx, res, st, context.Cause(ctx)) // before the write: nothing in flight
	}
	// Once the write may leave, its intent must be on disk, cancelled or not.
	if _, err := e.Store.Append(context.WithoutCancel(ctx), journal.Record{RunID: s.runID, Kind: journal.KindIntent, Step: addr,
		Data: mustJSON(intentData{Key: key, Object: s.safeObject(obs.Object, secrets), Config: in.cfg, Change: cd})}); err != nil {
		res.err = fmt.Errorf("journal: %w", err)
		return res
	}
	s.instLogf(addr, "  %s %s (%s)\n", symbol(change.Action), addr, change.Action)
	start := time.Now()
	var result steps.Result
	err = pol.do(ctx, func(ctx context.Context) error {
		var err error
		result, err = s.applyStep(ctx, t, call, change)
		return err
	})
	if errors.Is(err, steps.ErrPaused) {
		res.paused = err.Error()
		return res
	}
	if err != nil {
		res = s.fail(ctx, res, st, err)
		// An action stopped mid-way may or may not have happened. If it is
		// not safe to repeat, a person must say which, as after a crash.
		res.inDoubt = res.interrupted && info.Kind == steps.KindAction && !repeatSafe(t, call)
		return res
	}
	s.instLogf(addr, "    %s done in %s\n", addr, time.Since(start).Round(time.Millisecond))
	if result.Change != nil {
		change = *result.Change
	}
	return s.done(ctx, in, res, obs, change, result, true)
}

// observeCall observes under the retry policy.
func (s *session) observeCall(ctx context.Context, t steps.DataSource, call steps.Call, pol retryPolicy) (steps.Observation, error) {
	var obs steps.Observation
	err := pol.do(ctx, func(ctx context.Context) error {
		var err error
		obs, err = s.observeOnce(ctx, t, call)
		return err
	})
	return obs, err
}

// instance is one step instance being applied: what runInstance worked
// out before observing it, which await and done use again.
type instance struct {
	st   *runbook.Step
	t    steps.Type
	call steps.Call
	pol  retryPolicy
	// cfg is the configuration as the journal stores it.
	cfg   *typedValue
	eachV cty.Value
	// secrets are the sensitive strings of the configuration, kept out
	// of the journal.
	secrets []string
}

// await observes until the step's desired state holds, without writing.
func (s *session) await(ctx context.Context, in *instance, res instResult, change steps.Change) instResult {
	e := s.e
	st, t, call, pol := in.st, in.t, in.call, in.pol
	limit, diags := lang.ParseDuration(s.sc.ctx(), st.Await, "await")
	if diags.HasErrors() {
		return s.fail(ctx, res, st, diagsError(diags))
	}
	s.instLogf(res.addr, "  … %s: waiting up to %s for it to become so\n", res.addr, limit)
	// The limit is counted in poll intervals rather than wall time, so a
	// rehearsal whose Sleep passes virtual time honours it too.
	waited := time.Duration(0)
	for {
		obs, err := s.observeCall(ctx, t, call, pol)
		if err == nil {
			change, err = s.diff(ctx, t, call, obs)
			if err == nil && change.Action == steps.NoOp {
				return s.done(ctx, in, res, obs, change, steps.Result{}, false)
			}
		}
		if err != nil && steps.IsPermanent(err) {
			return s.fail(ctx, res, st, fmt.Errorf("will not become so: %w", err))
		}
		if waited >= limit {
			last := "still differs"
			if err != nil {
				last = err.Error()
			} else if b, a := plan.EncodeValue(lang.Redact(change.Before, false)), plan.EncodeValue(lang.Redact(change.After, false)); true {
				last = fmt.Sprintf("still %s, wanted %s", b, a)
			}
			return s.fail(ctx, res, st, fmt.Errorf("not so after %s: %s", limit, last))
		}
		if err := e.sleep(ctx, e.pollInterval()); err != nil {
			return s.fail(ctx, res, st, err)
		}
		waited += e.pollInterval()
	}
}

// done records an outcome (lazily: losing it in a crash only makes the
// instance in doubt, which observing settles), checks postconditions and
// sets the instance's value.
func (s *session) done(ctx context.Context, in *instance, res instResult, obs steps.Observation, change steps.Change, result steps.Result, wrote bool) instResult {
	st, t, call, cfg, eachV, secrets := in.st, in.t, in.call, in.cfg, in.eachV, in.secrets
	if len(st.Postconditions) > 0 && wrote {
		// Conditions after a write see the object as it is now.
		if o, err := s.observeOnce(ctx, t, call); err == nil {
			obs = o
		}
	}
	resVal := result.Value
	if resVal == cty.NilVal {
		resVal = cty.NullVal(cty.DynamicPseudoType)
	}
	od := outcomeData{Key: call.Key, Object: s.safeObject(obs.Object, secrets), Action: string(change.Action), Config: cfg}
	if wrote {
		cd, err := encodeChange(change, secrets)
		if err == nil {
			od.Change = &cd
		}
	}
	obsStored, _ := stored(obs.Value, secrets)
	resStored, _ := stored(resVal, secrets)
	od.Observed, _ = encodeTyped(obsStored)
	od.Result, _ = encodeTyped(resStored)
	// The write returned: its outcome is kept even if the run was
	// interrupted meanwhile, or a resume would take it for in doubt.
	if err := s.e.Store.AppendLazy(context.WithoutCancel(ctx), journal.Record{RunID: s.runID, Kind: journal.KindOutcome, Step: res.addr, Data: mustJSON(od)}); err != nil {
		res.err = fmt.Errorf("journal: %w", err)
		return res
	}
	res.wrote = wrote
	res.value = instanceValue(obs.Value, resVal, string(change.Action))
	for _, c := range st.Postconditions {
		r, d := lang.EvalCheck(s.sc.child(eachV, res.value), c, "Postcondition")
		if d.HasErrors() || r == lang.Fail {
			res.err = errors.New(s.secrets.scrub(diagText(d)))
			res.diags = toDiagnostics(d, s.secrets.scrub)
			_ = s.e.Store.AppendLazy(context.WithoutCancel(ctx), journal.Record{RunID: s.runID, Kind: journal.KindNote, Step: res.addr, Error: res.err.Error(),
				Data: failureData(res.diags)})
			return res
		}
	}
	return res
}

// fail records a failure, unless err is the run being interrupted: that is
// no failure of the instance, and recording none keeps an intent already
// written in doubt, exactly as after a crash, so a resume observes it again
// or asks a person.
func (s *session) fail(ctx context.Context, res instResult, st *runbook.Step, err error) instResult {
	if interrupted(ctx, err) {
		res.interrupted = true
		s.logf("  - %s: interrupted: %v\n", res.addr, err)
		return res
	}
	res.err = errors.New(s.secrets.scrub(err.Error()))
	res.diags = keptDiags(err, s.secrets.scrub)
	s.instLogf(res.addr, "  x %s: %v\n", res.addr, res.err)
	_ = s.e.Store.AppendLazy(context.WithoutCancel(ctx), journal.Record{RunID: s.runID, Kind: journal.KindFailure, Step: res.addr, Error: res.err.Error(),
		Data: failureData(res.diags)})
	return res
}

func (s *session) decision(ctx context.Context, addr, decision, detail string) {
	s.logf("  %s: in doubt -> %s\n", addr, decision)
	_, _ = s.e.Store.Append(context.WithoutCancel(ctx), journal.Record{RunID: s.runID, Kind: journal.KindDecision, Step: addr,
		Data: mustJSON(Decision{Decision: decision, Detail: detail})})
}

// runData gives a data block its value for a run. The first time, it is
// read (and its conditions checked) and the value is recorded in the
// journal; a resume or rollback then uses the recorded value, because the
// run itself has changed what the block would read now (a cleared immutable
// ID, a user already bound), and its conditions were about the world before
// the run.
func (s *session) runData(ctx context.Context, d *runbook.Step, rp *replay) hcl.Diagnostics {
	if rp != nil {
		if st := rp.inst[d.Address()]; st.done() {
			od, err := st.outcome()
			v := cty.NilVal
			if err == nil {
				v, err = decodeTyped(od.Observed)
			}
			if err != nil || v == cty.NilVal {
				return hcl.Diagnostics{stepError(d, "Cannot read the journal", fmt.Errorf("recorded value of %s: %v", d.Address(), err))}
			}
			s.sc.setData(d.Type, d.ScopeName(), v)
			return nil
		}
	}
	ps, diags := s.planData(ctx, d)
	if diags.HasErrors() || s.runID == "" || s.e.Store == nil {
		return diags
	}
	if len(ps.Instances) == 1 && ps.Instances[0].Action == string(steps.Read) {
		v := s.sc.getData(d.Type, d.ScopeName())
		kept, hid := stored(v, s.secretInputs())
		od := outcomeData{Object: ps.Instances[0].Object, Action: string(steps.Read)}
		if !hid {
			od.Observed, _ = encodeTyped(kept)
		}
		if od.Observed != nil {
			if err := s.e.Store.AppendLazy(ctx, journal.Record{RunID: s.runID, Kind: journal.KindOutcome, Step: d.Address(), Data: mustJSON(od)}); err != nil {
				diags = append(diags, stepError(d, "Cannot record "+d.Address(), err))
			}
		}
	}
	return diags
}

// rereadData observes the data blocks again (for wait's `until`).
func (s *session) rereadData(ctx context.Context) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, d := range s.rb.Data {
		_, dd := s.planData(ctx, d)
		diags = append(diags, dd...)
	}
	return diags
}

// interrupted reports whether err is the run being stopped from outside (a
// signal, a caller cancelling the run's context) rather than the step
// failing on its own: ctx, the step's context, ended for a reason other
// than the step's own timeout, and err is that ending.
func interrupted(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() == nil {
		return false
	}
	cause := context.Cause(ctx)
	var own stepTimeout
	if errors.As(cause, &own) {
		return false
	}
	return errors.Is(err, ctx.Err()) || errors.Is(err, cause)
}

// stepTimeout is the cause a step's context ends with when the step's own
// timeout passes, which tells a timeout (a failure) from an interrupt.
type stepTimeout time.Duration

func (d stepTimeout) Error() string {
	return fmt.Sprintf("the step's timeout (%s) passed", time.Duration(d))
}

// Is makes a timeout a context.DeadlineExceeded, as a step may check.
func (stepTimeout) Is(target error) bool { return target == context.DeadlineExceeded }

func repeatSafe(t steps.Type, call steps.Call) bool {
	if r, ok := t.(steps.RepeatSafety); ok {
		return r.RepeatSafeCall(call)
	}
	return t.Info().RepeatSafe
}
