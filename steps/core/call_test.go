package core

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/rebind-dev/rebind/steps"
)

// fakeRun is a RunContext whose step approvals a test sets.
type fakeRun struct {
	id  string
	dir string

	mu        sync.Mutex
	approvals map[string]string // address -> by
	asked     int
}

func (r *fakeRun) ID() string  { return r.id }
func (r *fakeRun) Dir() string { return r.dir }

func (r *fakeRun) StepApproval(ctx context.Context, address string) (bool, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked++
	by, ok := r.approvals[address]
	return ok, by, nil
}

func (r *fakeRun) approve(address, by string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.approvals == nil {
		r.approvals = map[string]string{}
	}
	r.approvals[address] = by
}

// newCall builds a Call as the engine would: every schema attribute present
// in Config, converted to its schema type, null when absent. It fails the
// test on an attribute the schema does not have.
func newCall(t *testing.T, typ steps.Type, address string, run *fakeRun, attrs map[string]cty.Value) steps.Call {
	t.Helper()
	schema := typ.Info().Schema
	obj := map[string]cty.Value{}
	for name, a := range schema {
		v, ok := attrs[name]
		if !ok {
			obj[name] = cty.NullVal(a.Type)
			continue
		}
		cv, err := convert.Convert(v, a.Type)
		if err != nil {
			t.Fatalf("attribute %q: %v", name, err)
		}
		obj[name] = cv
	}
	for name := range attrs {
		if _, ok := schema[name]; !ok {
			t.Fatalf("attribute %q is not in the %s schema", name, typ.Info().Name)
		}
	}
	if run == nil {
		run = &fakeRun{id: "run-1", dir: t.TempDir()}
	}
	return steps.Call{
		Address: address,
		Config:  cty.ObjectVal(obj),
		Run:     run,
		Log:     &bytes.Buffer{},
	}
}

// plan observes and diffs, failing the test on an error.
func plan(t *testing.T, typ steps.Type, call steps.Call) (steps.Observation, steps.Change) {
	t.Helper()
	ctx := context.Background()
	obs, err := typ.Observe(ctx, call)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	if !obs.Value.IsWhollyKnown() {
		t.Fatalf("Observe returned a value that is not wholly known: %#v", obs.Value)
	}
	ch, err := typ.Diff(ctx, call, obs)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	return obs, ch
}

// apply runs plan then Apply, failing the test on an error.
func apply(t *testing.T, typ steps.Type, call steps.Call) (steps.Change, steps.Result) {
	t.Helper()
	_, ch := plan(t, typ, call)
	res, err := typ.Apply(context.Background(), call, ch)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return ch, res
}

func str(s string) cty.Value { return cty.StringVal(s) }

func strs(ss ...string) cty.Value {
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}

func TestRegistered(t *testing.T) {
	for _, name := range []string{"approve", "assert", "exec", "export", "file", "wait"} {
		typ, ok := steps.Lookup(name)
		if !ok {
			t.Errorf("step type %q is not registered", name)
			continue
		}
		info := typ.Info()
		if info.Doc == "" || info.Kind == 0 || info.Reversibility == 0 {
			t.Errorf("step type %q: incomplete Info: %+v", name, info)
		}
		for attr, a := range info.Schema {
			if a.Doc == "" || a.Type == cty.NilType {
				t.Errorf("step type %q: attribute %q lacks a type or doc", name, attr)
			}
		}
	}
}
