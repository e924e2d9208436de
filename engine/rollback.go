package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/addrs"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

// Rollback reverts the completed steps of a run, newest first.
func (e *Engine) Rollback(ctx context.Context, runID string, in Inputs) (*Report, hcl.Diagnostics) {
	run, s, rp, release, diags := e.openRun(ctx, runID, in)
	if diags.HasErrors() {
		return nil, diags
	}
	defer release()
	defer s.close()
	if run.Status == journal.StatusRolledBack {
		return &Report{RunID: run.ID, Status: run.Status}, diags
	}
	// Targets may depend on data blocks.
	if d := s.evalEarly(ctx, func(d *runbook.Step) hcl.Diagnostics {
		return s.runData(ctx, d, rp)
	}); d.HasErrors() {
		return nil, append(diags, d...)
	}
	rep := &Report{RunID: run.ID}
	status := s.rollback(ctx, rep)
	// A rollback is not cancelled part-way (see rollback), and neither is
	// the record of how it ended.
	jctx := context.WithoutCancel(ctx)
	_ = e.Store.Flush(jctx)
	msg := ""
	if len(rep.NotReverted) > 0 {
		msg = fmt.Sprintf("%d changes not reverted", len(rep.NotReverted))
	}
	if err := e.Store.SetStatus(jctx, run.ID, status, msg); lostRun(err) {
		rep.Status = journal.StatusFailed
		rep.Failures = append(rep.Failures, InstanceError{Err: err.Error()})
		return s.cleanReport(rep), s.secrets.scrubDiags(diags)
	}
	if status == journal.StatusRolledBack {
		_ = e.Store.Unlock(jctx, run.ID)
	}
	rep.Status = status
	return s.cleanReport(rep), s.secrets.scrubDiags(diags)
}

// rollback reverts every completed write of the run, newest first. A step
// type without Reverter, or an irreversible change, is reported and
// skipped; a revert that fails stops the rollback, since older changes may
// depend on it. Every change it does not revert is reported with
// diagnostics (notReverted), kept in the journal as well.
func (s *session) rollback(ctx context.Context, rep *Report) journal.RunStatus {
	e := s.e
	ctx = context.WithoutCancel(ctx)
	recs, err := e.Store.Records(ctx, s.runID)
	if err != nil {
		s.notReverted(ctx, rep, "", err.Error(), "", Diagnostic{Summary: "Cannot read the journal", Detail: err.Error()})
		return journal.StatusRollbackFailed
	}
	rp, err := fold(recs)
	if err != nil {
		s.notReverted(ctx, rep, "", err.Error(), "", Diagnostic{Summary: "Cannot read the journal", Detail: err.Error()})
		return journal.StatusRollbackFailed
	}
	type item struct {
		addr string
		st   *instState
	}
	var items []item
	for addr, st := range rp.inst {
		if st.done() && !st.reverted {
			od, err := st.outcome()
			if err != nil {
				s.notReverted(ctx, rep, addr, err.Error(), journal.KindNote, Diagnostic{Summary: "Cannot read the journal", Detail: err.Error()})
				return journal.StatusRollbackFailed
			}
			if isWrite(od.Action) {
				items = append(items, item{addr, st})
			}
		}
		if st.inDoubt() {
			// An in-doubt write may have happened: revert it from its intent.
			items = append(items, item{addr, st})
		}
	}
	sort.Slice(items, func(i, j int) bool { return seqOf(items[i].st) > seqOf(items[j].st) })
	fanOut := false
	for _, it := range items {
		fanOut = fanOut || strings.HasSuffix(it.addr, "]")
	}
	s.emit(Event{Kind: StepStarted, Phase: "rollback", Step: "rollback", Total: len(items), FanOut: fanOut})
	defer s.emit(Event{Kind: StepFinished, Phase: "rollback", Step: "rollback"})
	reverted := func(addr string, oc Outcome) {
		s.emit(Event{Kind: InstanceDone, Phase: "rollback", Step: "rollback", Instance: addr, Outcome: oc})
	}
	byAddr := map[string]*runbook.Step{}
	for _, st := range s.rb.Steps {
		byAddr[st.Address()] = st
	}
	// each.value by key, per fan-out step, evaluated once for all its
	// instances' withheld arguments.
	eachOf := map[*runbook.Step]map[string]cty.Value{}
	for _, it := range items {
		stepAddr := addrs.StepOf(it.addr)
		st := byAddr[stepAddr]
		t, ok := steps.Lookup(addrs.TypeOf(it.addr))
		if st == nil || !ok {
			reason := "the step is no longer in the runbook"
			s.notReverted(ctx, rep, it.addr, reason, journal.KindNote, Diagnostic{Summary: "Not reverted", Detail: reason})
			reverted(it.addr, OutcomeNotReverted)
			continue
		}
		// Where the step is in the runbook, for the diagnostics of a
		// change it does not revert.
		at := sourceRange(st.DeclRange)
		info := t.Info()
		rv, ok := t.(steps.Reverter)
		if !ok || info.Reversibility == steps.Irreversible {
			reason := info.IrreversibleReason
			if reason == "" {
				reason = fmt.Sprintf("step type %q cannot be reverted", info.Name)
			}
			s.notReverted(ctx, rep, it.addr, reason, journal.KindNote, Diagnostic{Summary: "Not reverted", Detail: reason, Range: at})
			s.instLogf(it.addr, "  ! %s not reverted: %s\n", it.addr, reason)
			reverted(it.addr, OutcomeNotReverted)
			continue
		}
		var cd *changeData
		var cfgTV *typedValue
		key := ""
		if it.st.done() {
			od, _ := it.st.outcome() // decoded when the item was chosen
			cd, cfgTV, key = od.Change, od.Config, od.Key
		} else {
			cd, cfgTV, key = &it.st.intent.Change, it.st.intent.Config, it.st.intent.Key
		}
		change, err := decodeChange(cd)
		if err == nil && cd == nil {
			err = errors.New("the journal has no recorded change")
		}
		cfg, err2 := decodeTyped(cfgTV)
		if err == nil {
			err = err2
		}
		if err != nil {
			s.notReverted(ctx, rep, it.addr, "journal: "+err.Error(), journal.KindNote,
				Diagnostic{Summary: "Cannot read the journal", Detail: err.Error(), Range: at})
			return journal.StatusRollbackFailed
		}
		if cd.BeforeRedacted {
			reason := "the value before held a secret, which rebind does not store, so it cannot be written back"
			// Its before-value is not in the journal: no values to show.
			s.notReverted(ctx, rep, it.addr, reason, journal.KindNote, Diagnostic{Summary: "Not reverted", Detail: reason, Range: at})
			s.instLogf(it.addr, "  ! %s not reverted: %s\n", it.addr, reason)
			reverted(it.addr, OutcomeNotReverted)
			continue
		}
		// The values the revert works with, for its diagnostics.
		involved := changeValues(change)
		if len(cfgTV.Withheld) > 0 {
			restored, err := s.restoreWithheld(st, key, cfg, cfgTV.Withheld, eachOf)
			if err != nil {
				reason := fmt.Sprintf("its revert needs %s, which held a secret that rebind does not store, and the runbook cannot give it again now (%v); "+
					"give the sensitive inputs again (rebind rollback RUN -var ...) or revert it by hand",
					strings.Join(cfgTV.Withheld, ", "), err)
				// The evaluation's own diagnostics, when it was one
				// that failed, follow with their ranges and values.
				diags := append([]Diagnostic{{Summary: "Not reverted", Detail: reason, Range: at, Values: involved}}, keptDiags(err, s.secrets.scrub)...)
				s.notReverted(ctx, rep, it.addr, reason, journal.KindNote, diags...)
				s.logf("  ! %s not reverted: %s\n", it.addr, reason)
				return journal.StatusRollbackFailed
			}
			cfg = restored
		}
		tgt, err := s.targetFor(ctx, st, info)
		if err != nil {
			s.notReverted(ctx, rep, it.addr, err.Error(), journal.KindNote,
				Diagnostic{Summary: "Cannot revert", Detail: err.Error(), Range: at, Values: involved})
			return journal.StatusRollbackFailed
		}
		call := s.call(st, info, cfg, key, it.addr, tgt)
		if _, err := e.Store.Append(ctx, journal.Record{RunID: s.runID, Kind: journal.KindRevertIntent, Step: it.addr}); err != nil {
			// The journal refuses writes: the diagnostic is not kept there.
			s.notReverted(ctx, rep, it.addr, "journal: "+err.Error(), "",
				Diagnostic{Summary: "Cannot write the journal", Detail: err.Error(), Range: at, Values: involved})
			return journal.StatusRollbackFailed
		}
		pol, _ := s.retryPolicy(st)
		addr := it.addr
		pol.throttled = func(after time.Duration) {
			s.emit(Event{Kind: Throttled, Phase: "rollback", Step: "rollback", Instance: addr, Wait: after})
		}
		err = pol.do(ctx, func(ctx context.Context) error { return rv.Revert(ctx, call, change) })
		if errors.Is(err, steps.ErrIrreversible) {
			s.notReverted(ctx, rep, it.addr, err.Error(), journal.KindRevertFailure,
				Diagnostic{Summary: "Not reverted", Detail: err.Error(), Range: at, Values: involved})
			s.instLogf(it.addr, "  ! %s not reverted: %v\n", it.addr, err)
			reverted(it.addr, OutcomeNotReverted)
			continue
		}
		if err != nil {
			summary := "Revert failed"
			if !it.st.done() {
				summary = "Revert of an in-doubt write failed"
			}
			s.notReverted(ctx, rep, it.addr, err.Error(), journal.KindRevertFailure,
				Diagnostic{Summary: summary, Detail: err.Error(), Range: at, Values: involved})
			s.logf("  x %s: revert failed: %v\n", it.addr, err)
			reverted(it.addr, OutcomeFailed)
			return journal.StatusRollbackFailed
		}
		_ = e.Store.AppendLazy(ctx, journal.Record{RunID: s.runID, Kind: journal.KindRevertOutcome, Step: it.addr})
		rep.Reverted = append(rep.Reverted, it.addr)
		s.instLogf(it.addr, "  < %s reverted\n", it.addr)
		reverted(it.addr, OutcomeReverted)
	}
	return journal.StatusRolledBack
}

// notReverted reports the change at addr as not reverted, with its error
// text as before and diags saying the same with where the step is and the
// values involved; secrets are scrubbed from both. The journal keeps them
// (FailureData) in a record of kind: the revert-failure record of a revert
// that was tried, a note for a change rollback did not try to revert, ""
// for none when the journal itself failed. `runs show` prints them.
func (s *session) notReverted(ctx context.Context, rep *Report, addr, text string, kind journal.Kind, diags ...Diagnostic) {
	text = s.secrets.scrub(text)
	for i := range diags {
		diags[i].scrub(s.secrets.scrub)
	}
	rep.NotReverted = append(rep.NotReverted, InstanceError{Address: addr, Err: text, Diagnostics: diags})
	if kind != "" {
		_ = s.e.Store.AppendLazy(ctx, journal.Record{RunID: s.runID, Kind: kind, Step: addr, Error: text, Data: failureData(diags)})
	}
}

// changeValues are the values of a recorded change as a revert's
// diagnostics show them: change.before, which the revert writes back, and
// change.after, which the run wrote.
func changeValues(ch steps.Change) []ExprValue {
	var out []ExprValue
	if ch.Before != cty.NilVal {
		out = append(out, exprValue("change.before", ch.Before))
	}
	if ch.After != cty.NilVal {
		out = append(out, exprValue("change.after", ch.After))
	}
	return out
}

func seqOf(st *instState) int64 {
	if st.done() {
		return st.outcomeSeq
	}
	return 1 << 62 // in doubt: the newest thing the run did
}

// restoreWithheld evaluates a step's configuration again, as its revert
// needs the secrets the journal withheld (an exec's env built from a
// sensitive variable). It uses the inputs given to the rollback and the
// data values recorded at the run's start; the attributes the journal did
// keep must come out as recorded, or the evaluation is not the one that ran.
func (s *session) restoreWithheld(st *runbook.Step, key string, stored cty.Value, withheld []string, eachOf map[*runbook.Step]map[string]cty.Value) (cty.Value, error) {
	eachV := cty.NilVal
	if st.ForEach != nil {
		each, ok := eachOf[st]
		if !ok {
			var diags hcl.Diagnostics
			_, each, diags = s.forEach(st)
			if diags.HasErrors() {
				return cty.NilVal, fmt.Errorf("for_each: %w", diagsError(diags))
			}
			eachOf[st] = each
		}
		v, ok := each[key]
		if !ok {
			return cty.NilVal, fmt.Errorf("for_each no longer yields %q", key)
		}
		eachV = eachValue(key, v)
	}
	fresh, diags := s.decode(st, s.sc.child(eachV, cty.NilVal))
	if diags.HasErrors() {
		return cty.NilVal, diagsError(diags)
	}
	if !fresh.IsWhollyKnown() {
		return cty.NilVal, errors.New("it depends on values from steps of the run")
	}
	info := s.types[st.Type].Info()
	if !storable(info.Schema, fresh).RawEquals(stored) {
		return cty.NilVal, errors.New("it no longer evaluates to what ran")
	}
	plain, _ := fresh.UnmarkDeep()
	m := stored.AsValueMap()
	for _, name := range withheld {
		v := plain.GetAttr(name)
		if v.IsNull() {
			return cty.NilVal, fmt.Errorf("%s is now null", name)
		}
		// Withheld because it held a secret: it still does, so that the
		// revert's log lines and errors do not show it.
		m[name] = lang.MarkSensitive(v)
	}
	return cty.ObjectVal(m), nil
}
