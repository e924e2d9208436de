package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// world is an in-memory directory the test step types read and write, so
// engine tests can assert exactly what was written, and how often.
type world struct {
	mu      sync.Mutex
	values  map[string]string // key -> value ("" absent)
	applies map[string]int    // key -> Apply calls
	fails   map[string]int    // key -> transient failures still to give
	runs    map[string]int    // action key -> runs
}

var theWorld = &world{}

func (w *world) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.values, w.applies, w.fails, w.runs = map[string]string{}, map[string]int{}, map[string]int{}, map[string]int{}
}

func (w *world) get(k string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.values[k]
}

func (w *world) set(k, v string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.values[k] = v
}

func (w *world) count(m map[string]int, k string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return m[k]
}

func init() {
	theWorld.reset()
	steps.Register(valueType{})
	steps.Register(actionType{})
	steps.RegisterData(readType{})
	steps.RegisterData(lookupType{})
	steps.Register(purgeType{})
}

// valueType ("test_value") ensures world[key] == value. `fail` makes Apply
// fail permanently; world.fails[key] makes it fail transiently that many
// times first.
type valueType struct{}

func (valueType) Info() steps.Info {
	return steps.Info{
		Name: "test_value", Doc: "Test: ensures a key holds a value.", Kind: steps.KindEnsure,
		Schema: steps.Schema{
			"key":    {Type: cty.String, Required: true},
			"value":  {Type: cty.String, Required: true, Nullable: true},
			"fail":   {Type: cty.Bool},
			"secret": {Type: cty.String, Sensitive: true},
		},
		Reversibility: steps.Reversible,
		Permissions:   []string{"Test: Values.ReadWrite"},
	}
}

func (valueType) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	k, _ := steps.String(c.Config, "key")
	v := theWorld.get(k)
	val := cty.NullVal(cty.String)
	if v != "" {
		val = cty.StringVal(v)
	}
	return keyObservation(k, val), nil
}

// keyObservation is what the test types observe of world[k]: the object
// test:k holding its key and value.
func keyObservation(k string, value cty.Value) steps.Observation {
	return steps.Observation{Object: "test:" + k, Value: cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(k), "value": value})}
}

func (valueType) Diff(ctx context.Context, c steps.Call, obs steps.Observation) (steps.Change, error) {
	want := c.Config.GetAttr("value")
	have := obs.Value.GetAttr("value")
	if have.Equals(want).True() || (have.IsNull() && want.IsNull()) {
		return steps.Change{Action: steps.NoOp}, nil
	}
	a := steps.Update
	if have.IsNull() {
		a = steps.Create
	} else if want.IsNull() {
		a = steps.Delete
	}
	return steps.Change{Action: a,
		Before: cty.ObjectVal(map[string]cty.Value{"value": have}),
		After:  cty.ObjectVal(map[string]cty.Value{"value": want})}, nil
}

func (valueType) Apply(ctx context.Context, c steps.Call, ch steps.Change) (steps.Result, error) {
	k, _ := steps.String(c.Config, "key")
	theWorld.mu.Lock()
	theWorld.applies[k]++
	if theWorld.fails[k] > 0 {
		theWorld.fails[k]--
		theWorld.mu.Unlock()
		return steps.Result{}, fmt.Errorf("test: transient failure writing %s", k)
	}
	theWorld.mu.Unlock()
	if f, _ := steps.Bool(c.Config, "fail"); f {
		return steps.Result{}, steps.Permanent(fmt.Errorf("test: %s refused", k))
	}
	v, _ := steps.String(c.Config, "value")
	theWorld.set(k, v)
	return steps.Result{Value: cty.ObjectVal(map[string]cty.Value{"written": cty.StringVal(v)})}, nil
}

func (valueType) Revert(ctx context.Context, c steps.Call, ch steps.Change) error {
	k, _ := steps.String(c.Config, "key")
	b := ch.Before.GetAttr("value")
	if b.IsNull() {
		theWorld.set(k, "")
	} else {
		theWorld.set(k, b.AsString())
	}
	return nil
}

// actionType ("test_action") counts runs of a key; it is not safe to repeat
// and has no observable state.
type actionType struct{ alwaysRuns }

func (actionType) Info() steps.Info {
	return steps.Info{Name: "test_action", Doc: "Test: an action that is not safe to repeat.", Kind: steps.KindAction,
		Schema: steps.Schema{"key": {Type: cty.String, Required: true}}, Reversibility: steps.Irreversible,
		IrreversibleReason: "a run cannot be taken back"}
}

func (actionType) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	k, _ := steps.String(c.Config, "key")
	return steps.Observation{Object: "action:" + k, Value: cty.EmptyObjectVal}, nil
}

// alwaysRuns gives a test action type its Diff: an action is run each
// time, whatever was observed.
type alwaysRuns struct{}

func (alwaysRuns) Diff(ctx context.Context, c steps.Call, obs steps.Observation) (steps.Change, error) {
	return steps.Change{Action: steps.Run}, nil
}

func (actionType) Apply(ctx context.Context, c steps.Call, ch steps.Change) (steps.Result, error) {
	k, _ := steps.String(c.Config, "key")
	theWorld.mu.Lock()
	theWorld.runs[k]++
	theWorld.mu.Unlock()
	return steps.Result{}, nil
}

// readType ("test_read") is a data type returning world[key].
type readType struct{}

func (readType) Info() steps.Info {
	return steps.Info{Name: "test_read", Doc: "Test: reads a key.", Kind: steps.KindData,
		Schema: steps.Schema{"key": {Type: cty.String, Required: true}}, Permissions: []string{"Test: Values.Read"}}
}

func (readType) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	k, _ := steps.String(c.Config, "key")
	return keyObservation(k, cty.StringVal(theWorld.get(k))), nil
}

// lookupType ("test_lookup") is a data type that finds world[key] or
// fails with steps.ErrNotFound when the key is not set, as directory data
// types do for an object that does not exist.
type lookupType struct{}

func (lookupType) Info() steps.Info {
	i := readType{}.Info()
	i.Name, i.Doc = "test_lookup", "Test: finds a key that may not exist."
	return i
}

func (lookupType) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	k, _ := steps.String(c.Config, "key")
	theWorld.mu.Lock()
	v, ok := theWorld.values[k]
	theWorld.mu.Unlock()
	if !ok {
		return steps.Observation{}, fmt.Errorf("test: no key %q: %w", k, steps.ErrNotFound)
	}
	return keyObservation(k, cty.StringVal(v)), nil
}

// purgeType ("test_purge") deletes a key for good: irreversible, but
// repeat-safe (a second purge of a missing key is a no-op).
type purgeType struct{}

func (purgeType) Info() steps.Info {
	return steps.Info{Name: "test_purge", Doc: "Test: deletes a key for good.", Kind: steps.KindAction,
		Schema: steps.Schema{"key": {Type: cty.String, Required: true}}, Reversibility: steps.Irreversible,
		IrreversibleReason: "a purged key cannot be brought back", RepeatSafe: true}
}

func (purgeType) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	return valueType{}.Observe(ctx, c)
}

func (purgeType) Diff(ctx context.Context, c steps.Call, obs steps.Observation) (steps.Change, error) {
	if obs.Value.GetAttr("value").IsNull() {
		return steps.Change{Action: steps.NoOp}, nil
	}
	return steps.Change{Action: steps.Run, Before: obs.Value, After: cty.NullVal(obs.Value.Type())}, nil
}

func (purgeType) Apply(ctx context.Context, c steps.Call, ch steps.Change) (steps.Result, error) {
	k, _ := steps.String(c.Config, "key")
	theWorld.set(k, "")
	return steps.Result{}, nil
}

// brokenTarget ("test_broken") fails to open and, as a careless target type
// might, returns a typed nil with its error.
type brokenTarget struct{}

type brokenConn struct{ closed bool }

func (c *brokenConn) Close() error {
	c.closed = true // panics on a nil *brokenConn
	return nil
}

func (brokenTarget) Info() steps.TargetInfo {
	return steps.TargetInfo{Name: "test_broken", Schema: steps.Schema{}}
}

func (brokenTarget) Open(ctx context.Context, cfg steps.TargetConfig) (any, error) {
	var c *brokenConn
	return c, errors.New("test_broken: cannot reach the directory")
}

// targetedRead ("test_targeted_read") reads through a test_broken target.
type targetedRead struct{ readType }

func (targetedRead) Info() steps.Info {
	i := readType{}.Info()
	i.Name, i.Target = "test_targeted_read", "test_broken"
	return i
}

func init() {
	steps.RegisterTarget(brokenTarget{})
	steps.RegisterData(targetedRead{})
}

// connTarget ("test_conn") is a target with one setting that is never
// opened: for tests of how plans show target settings.
type connTarget struct{}

func (connTarget) Info() steps.TargetInfo {
	return steps.TargetInfo{Name: "test_conn", Schema: steps.Schema{"name": {Type: cty.String}}}
}

func (connTarget) Open(ctx context.Context, cfg steps.TargetConfig) (any, error) {
	return nil, errors.New("test_conn: not for opening")
}

func init() { steps.RegisterTarget(connTarget{}) }
