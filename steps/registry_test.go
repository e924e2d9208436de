package steps

import (
	"context"
	"slices"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// A value from a sensitive variable arrives marked, at the attribute or on
// the whole object; String and Bool hand the step the plain value (the
// engine keeps track of the marks) instead of panicking, which is what the
// core step types rely on for exec's environment and file contents.
func TestStringBoolReadMarkedValues(t *testing.T) {
	obj := cty.ObjectVal(map[string]cty.Value{
		"secret": cty.StringVal("s3cret").Mark("sensitive"),
		"flag":   cty.True.Mark("sensitive"),
		"unset":  cty.NullVal(cty.String),
	}).Mark("sensitive")
	if s, ok := String(obj, "secret"); !ok || s != "s3cret" {
		t.Errorf("String(secret) = %q, %v; want \"s3cret\", true", s, ok)
	}
	if b, ok := Bool(obj, "flag"); !ok || !b {
		t.Errorf("Bool(flag) = %v, %v; want true, true", b, ok)
	}
	if s, ok := String(obj, "unset"); ok || s != "" {
		t.Errorf("String(unset) = %q, %v; want \"\", false", s, ok)
	}
	if _, ok := String(obj, "missing"); ok {
		t.Error("String(missing) reported present")
	}
}

type fakeSource struct{ kind Kind }

func (f fakeSource) Info() Info { return Info{Name: "test_registry_" + f.kind.String(), Kind: f.kind} }
func (fakeSource) Observe(context.Context, Call) (Observation, error) {
	return Observation{}, nil
}

type fakeStep struct{ fakeSource }

func (fakeStep) Diff(context.Context, Call, Observation) (Change, error) { return Change{}, nil }
func (fakeStep) Apply(context.Context, Call, Change) (Result, error)     { return Result{}, nil }

// A data source is registered with RegisterData and a step type with
// Register; the other way round is a programmer mistake found at
// start-up, as a duplicate name is. Lookup finds both, and only a step
// type asserts to Type.
func TestRegisterKinds(t *testing.T) {
	panics := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	panics("Register of a KindData step type", func() { Register(fakeStep{fakeSource{KindData}}) })
	panics("RegisterData of a KindEnsure source", func() { RegisterData(fakeSource{KindEnsure}) })
	panics("RegisterData of a source with Diff and Apply", func() { RegisterData(fakeStep{fakeSource{KindData}}) })
	RegisterData(fakeSource{KindData})
	Register(fakeStep{fakeSource{KindAction}})
	panics("RegisterData twice", func() { RegisterData(fakeSource{KindData}) })
	d, ok := Lookup("test_registry_data")
	if _, isStep := d.(Type); !ok || isStep {
		t.Errorf("Lookup(data source) = %T, %v; want the data source, not a Type", d, ok)
	}
	s, ok := Lookup("test_registry_action")
	if _, isStep := s.(Type); !ok || !isStep {
		t.Errorf("Lookup(step type) = %T, %v; want a Type", s, ok)
	}
	if !slices.Contains(Types(), "test_registry_data") || !slices.Contains(Types(), "test_registry_action") {
		t.Errorf("Types() = %v, want both names", Types())
	}
}

// TestTargetConfigEnv: a target reads the environment through Getenv when
// the caller gives one (a test, an environment's variables), and through
// the process's otherwise.
func TestTargetConfigEnv(t *testing.T) {
	t.Setenv("REBIND_TEST_ENV", "process")
	given := TargetConfig{Getenv: func(k string) string { return "given:" + k }}
	if got := given.Env()("REBIND_TEST_ENV"); got != "given:REBIND_TEST_ENV" {
		t.Errorf("with Getenv: %q", got)
	}
	if got := (TargetConfig{}).Env()("REBIND_TEST_ENV"); got != "process" {
		t.Errorf("without Getenv: %q, want the process's", got)
	}
}
