package steps

import (
	"context"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/zclconf/go-cty/cty"
)

// TargetInfo describes a target type: what a `target "TYPE" "NAME" {}` block
// may contain.
type TargetInfo struct {
	// Name is the first block label: "entra", "ad", "exo", "adsync".
	Name string
	// Doc is a short paragraph for documentation.
	Doc string
	// Schema lists the block's arguments. Credentials never appear here:
	// they come from the environment.
	Schema Schema
}

// TargetConfig is one decoded target block.
type TargetConfig struct {
	// Name is the second block label.
	Name string
	// Config is an object value holding every attribute of the schema.
	Config cty.Value
	// Getenv reads the environment (os.Getenv unless a test overrides it).
	Getenv func(string) string
}

// Env is how the target reads the environment: Getenv, or os.Getenv when
// it is nil.
func (c TargetConfig) Env() func(string) string {
	if c.Getenv != nil {
		return c.Getenv
	}
	return os.Getenv
}

// TargetType opens connections to a directory. The value Open returns is
// handed to steps as Call.Target; if it implements io.Closer the engine
// closes it when the run ends.
type TargetType interface {
	Info() TargetInfo
	Open(ctx context.Context, cfg TargetConfig) (any, error)
}

var (
	// types holds the data sources and step types by name (one
	// namespace: a name is a data source or a step type, not both).
	types   = registry[DataSource]{register: "Register", what: "step type"}
	targets = registry[TargetType]{register: "RegisterTarget", what: "target type"}
)

// registry is one namespace of registered types, safe for concurrent use.
type registry[T any] struct {
	// register and what name the registering function and what it
	// registers, in its panics.
	register, what string
	mu             sync.RWMutex
	m              map[string]T
}

// add registers v as name. It panics when name is empty or already
// registered.
func (r *registry[T]) add(name string, v T) {
	if name == "" {
		panic("steps: " + r.register + " of a " + r.what + " with an empty name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		panic("steps: " + r.register + " called twice for " + r.what + " " + name)
	}
	if r.m == nil {
		r.m = map[string]T{}
	}
	r.m[name] = v
}

func (r *registry[T]) lookup(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// names returns the registered names, sorted.
func (r *registry[T]) names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.m))
}

// Register makes a step type available by its Info().Name. It panics when t is
// nil, its name is empty or already registered, or its Kind is KindData (a
// data source is registered with RegisterData): those are programmer mistakes
// found at start-up.
func Register(t Type) {
	if t == nil {
		panic("steps: Register of a nil Type")
	}
	if t.Info().Kind == KindData {
		panic("steps: Register of step type " + t.Info().Name + " of kind data: register a data source with RegisterData")
	}
	types.add(t.Info().Name, t)
}

// RegisterData makes a data source available by its Info().Name, with the
// same rules as Register; its Kind must be KindData, and it must not have
// Diff and Apply (the engine takes a type that has them for a step type).
func RegisterData(d DataSource) {
	if d == nil {
		panic("steps: RegisterData of a nil DataSource")
	}
	if k := d.Info().Kind; k != KindData {
		panic("steps: RegisterData of " + d.Info().Name + " of kind " + k.String() + ": a data source only reads (KindData)")
	}
	if _, ok := d.(Type); ok {
		panic("steps: RegisterData of " + d.Info().Name + ", which has Diff and Apply: a data source only reads")
	}
	types.add(d.Info().Name, d)
}

// RegisterTarget makes a target type available by its Info().Name, with the
// same rules as Register.
func RegisterTarget(t TargetType) {
	if t == nil {
		panic("steps: RegisterTarget of a nil TargetType")
	}
	targets.add(t.Info().Name, t)
}

// Lookup returns the data source or step type registered under name. A
// step type is a DataSource that also implements Type: callers that diff
// or apply assert it, as they assert the optional capabilities (Reverter,
// BulkObserver).
func Lookup(name string) (DataSource, bool) { return types.lookup(name) }

// LookupTarget returns the target type registered under name.
func LookupTarget(name string) (TargetType, bool) { return targets.lookup(name) }

// Types returns the names of the registered data sources and step types,
// sorted.
func Types() []string { return types.names() }

// Targets returns the names of the registered target types, sorted.
func Targets() []string { return targets.names() }

// String returns the string attribute name of an object value, and whether
// it was present, known and not null. It panics if the attribute exists but
// is not a string: the engine converted it to the schema's type, so that
// would be a schema/step mismatch.
func String(obj cty.Value, name string) (string, bool) {
	v, ok := attr(obj, name)
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

// Bool is String for bool attributes.
func Bool(obj cty.Value, name string) (bool, bool) {
	v, ok := attr(obj, name)
	if !ok {
		return false, false
	}
	return v.True(), true
}

// Strings is String for list(string) attributes; a null element reads as "".
func Strings(obj cty.Value, name string) ([]string, bool) {
	v, ok := attr(obj, name)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			out = append(out, "")
			continue
		}
		out = append(out, e.AsString())
	}
	return out, true
}

// StringList is l as a list(string) value (an empty list for none), as step
// types return string lists.
func StringList(l []string) cty.Value {
	if len(l) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	out := make([]cty.Value, len(l))
	for i, s := range l {
		out[i] = cty.StringVal(s)
	}
	return cty.ListVal(out)
}

// Attr returns the attribute name of an object value when it is present,
// known and not null.
func Attr(obj cty.Value, name string) (cty.Value, bool) {
	return attr(obj, name)
}

func attr(obj cty.Value, name string) (cty.Value, bool) {
	if obj == cty.NilVal {
		return cty.NilVal, false
	}
	obj, _ = obj.Unmark()
	if obj.IsNull() || !obj.IsKnown() {
		return cty.NilVal, false
	}
	if !obj.Type().IsObjectType() || !obj.Type().HasAttribute(name) {
		return cty.NilVal, false
	}
	// Values that came from sensitive variables carry marks; step code
	// only needs the plain value (the engine keeps track of what was
	// marked).
	v, _ := obj.GetAttr(name).UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return cty.NilVal, false
	}
	return v, true
}
