package instancetest

import (
	"context"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/steps"
)

// Bind binds to the lab at labURL as `rebind --lab` does (control.Bind),
// keeping what it writes in a temporary directory. env stands for the
// process environment (REBIND_LAB_TOKEN, say); nil is an empty one, never
// this process's. It fails the test on an error.
func Bind(t testing.TB, labURL string, env map[string]string) *control.Binding {
	t.Helper()
	b, err := control.Bind(context.Background(), labURL, t.TempDir(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Target opens a target of type typ, named name, bound by b as `rebind
// --lab` binds an environment's targets: the lab's settings and
// credentials, extra set on top of them, through the target type's own
// Open, the code a tenant's target goes through. It fails the test on an
// error.
func Target(t testing.TB, b *control.Binding, typ, name string, extra map[string]cty.Value) any {
	t.Helper()
	tt, ok := steps.LookupTarget(typ)
	if !ok {
		t.Fatalf("target type %s is not registered", typ)
	}
	cfg, err := b.TargetConfig(typ, name, extra)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tt.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
