package core

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func TestApprovePausesUntilApproved(t *testing.T) {
	run := &fakeRun{id: "run-7", dir: t.TempDir()}
	const addr = "step.approve.check_mailbox"
	call := newCall(t, Approve{}, addr, run, map[string]cty.Value{
		"message": str("Check that the mailbox is back in Outlook on the web."),
	})
	obs, ch := plan(t, Approve{}, call)
	if obs.Value.GetAttr("approved").True() || ch.Action != steps.Run {
		t.Fatalf("not yet approved: observed %#v, Action %s", obs.Value, ch.Action)
	}
	_, err := (Approve{}).Apply(context.Background(), call, ch)
	if !errors.Is(err, steps.ErrPaused) {
		t.Fatalf("Apply: err = %v, want ErrPaused", err)
	}
	want := "the run run-7 is paused at step.approve.check_mailbox: Check that the mailbox is back in Outlook on the web. " +
		"Record a go-ahead with `rebind approve-step run-7 step.approve.check_mailbox`, then `rebind resume run-7`"
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), steps.ErrPaused.Error()) {
		t.Errorf("pause message:\n%s\nwant it to contain:\n%s", err, want)
	}

	run.approve(addr, "alice")
	res, err := (Approve{}).Apply(context.Background(), call, ch)
	if err != nil {
		t.Fatalf("Apply after approval: %v", err)
	}
	if res.Value.GetAttr("by").AsString() != "alice" {
		t.Errorf("result = %#v", res.Value)
	}
	if _, again := plan(t, Approve{}, call); again.Action != steps.NoOp {
		t.Errorf("approved: Action = %s, want no-op", again.Action)
	}
}

func TestApprovePauseQuotesFanOutAddress(t *testing.T) {
	run := &fakeRun{id: "r1", dir: t.TempDir()}
	call := newCall(t, Approve{}, `step.approve.user["bob"]`, run, map[string]cty.Value{"message": str("ok?")})
	_, err := (Approve{}).Apply(context.Background(), call, steps.Change{Action: steps.Run})
	if !strings.Contains(err.Error(), "`rebind approve-step r1 'step.approve.user[\"bob\"]'`") {
		t.Errorf("err = %v, want the address shell-quoted", err)
	}
}
