package core

import (
	"context"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func TestAssert(t *testing.T) {
	ok := newCall(t, Assert{}, "step.assert.bound", nil, map[string]cty.Value{
		"condition": cty.True, "error_message": str("The user is not bound."),
	})
	ch, _ := apply(t, Assert{}, ok)
	if ch.Action != steps.NoOp {
		t.Errorf("true condition: Action = %s, want no-op", ch.Action)
	}

	bad := newCall(t, Assert{}, "step.assert.bound", nil, map[string]cty.Value{
		"condition": cty.False, "error_message": str("The user is not bound."),
	})
	obs, err := (Assert{}).Observe(context.Background(), bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = (Assert{}).Diff(context.Background(), bad, obs)
	if err == nil || err.Error() != "The user is not bound." || !steps.IsPermanent(err) {
		t.Errorf("false condition: Diff err = %v, want the permanent error_message", err)
	}
	_, err = (Assert{}).Apply(context.Background(), bad, steps.Change{})
	if err == nil || !steps.IsPermanent(err) {
		t.Errorf("false condition: Apply err = %v, want permanent", err)
	}
	if err := (Assert{}).Revert(context.Background(), ok, ch); err != nil {
		t.Errorf("Revert: %v", err)
	}
}
