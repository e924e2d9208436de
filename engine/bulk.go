package engine

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

// prefetched is one fan-out instance observed in bulk: its decoded
// arguments and what the step type's ObserveMany returned for it.
type prefetched struct {
	cfg cty.Value
	obs steps.Observation
	err error
}

// prefetch observes the instances of a fan-out at once when the step's type
// implements steps.BulkObserver: at plan, and so again at apply's drift
// check, which plans the runbook anew. It returns the outcome by instance
// address; an instance it leaves out (arguments not yet known, or that did
// not decode cleanly) is decoded and observed on its own, as is every
// instance of a type without the capability or of a step with one instance.
func (s *session) prefetch(ctx context.Context, st *runbook.Step, info steps.Info, keys []string, each map[string]cty.Value) (map[string]prefetched, error) {
	bo, ok := s.types[st.Type].(steps.BulkObserver)
	if !ok || st.ForEach == nil || len(keys) < 2 {
		return nil, nil
	}
	tgt, err := s.targetFor(ctx, st, info)
	if err != nil {
		return nil, err
	}
	var calls []steps.Call
	var cfgs []cty.Value
	for _, key := range keys {
		cfg, d := s.decode(st, s.sc.child(eachValue(key, each[key]), cty.NilVal))
		if len(d) > 0 || !cfg.IsWhollyKnown() {
			continue
		}
		calls = append(calls, s.call(st, info, cfg, key, instanceAddr(st, key), tgt))
		cfgs = append(cfgs, cfg)
	}
	if len(calls) < 2 {
		return nil, nil
	}
	pol, _ := s.retryPolicy(st)
	var res []steps.BulkResult
	err = pol.do(ctx, func(ctx context.Context) error {
		var err error
		res, err = bo.ObserveMany(ctx, calls)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("observe %d instances at once: %w", len(calls), err)
	}
	if len(res) != len(calls) {
		return nil, fmt.Errorf("step type %s observed %d instances at once and returned %d results", st.Type, len(calls), len(res))
	}
	out := make(map[string]prefetched, len(calls))
	t := s.types[st.Type]
	for i, call := range calls {
		r := res[i]
		if r.Err == nil {
			r.Observation = s.observed(t, call, r.Observation)
		}
		out[call.Address] = prefetched{cfg: cfgs[i], obs: r.Observation, err: r.Err}
	}
	return out, nil
}

// decodeInstance is an instance's arguments: those prefetch decoded, or
// decoded now.
func (s *session) decodeInstance(st *runbook.Step, eachV cty.Value, addr string, pre map[string]prefetched) (cty.Value, hcl.Diagnostics) {
	if p, ok := pre[addr]; ok {
		return p.cfg, nil
	}
	return s.decode(st, s.sc.child(eachV, cty.NilVal))
}

// observeInstance is what prefetch observed of an instance, or an
// observation of it alone. It is the last use of the prefetched entry,
// which is dropped so that a large fan-out's observations do not all stay
// in memory until the last instance is planned.
func (s *session) observeInstance(ctx context.Context, st *runbook.Step, info steps.Info, cfg cty.Value, key, addr string, pre map[string]prefetched) (steps.Observation, error) {
	if p, ok := pre[addr]; ok {
		delete(pre, addr)
		return p.obs, p.err
	}
	return s.observe(ctx, st, info, cfg, key, addr)
}

// observed completes what a step type observed: an absent value is an
// empty object, what reflects a secret argument is marked sensitive, and
// the secrets it saw join the session's.
func (s *session) observed(t steps.DataSource, call steps.Call, obs steps.Observation) steps.Observation {
	if obs.Value == cty.NilVal {
		obs.Value = cty.EmptyObjectVal
	}
	obs.Value = taint(obs.Value, reflectedBy(t.Info(), call))
	s.secrets.add(obs.Value)
	return obs
}
