package exo

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func init() {
	steps.Register(delayHoldStep{})
}

// delayHoldStep is the exo_delay_hold type: it removes the delay holds
// Exchange places on a mailbox for 30 days after any hold is removed.
//
// "After any type of hold is removed from a mailbox, a delay hold is
// applied ... the mailbox is still considered to be on hold". To remove it
// before it expires: Set-Mailbox <mailbox> -RemoveDelayHoldApplied and
// -RemoveDelayReleaseHoldApplied, with -InactiveMailbox for an inactive
// mailbox; it needs the Legal Hold role (learn.microsoft.com/purview/
// ediscovery-identify-a-hold-on-an-exchange-online-mailbox, "Managing
// mailboxes on delay hold").
type delayHoldStep struct{}

func (delayHoldStep) Info() steps.Info {
	return steps.Info{
		Name: "exo_delay_hold",
		Doc: "Removes a mailbox's delay holds (DelayHoldApplied, DelayReleaseHoldApplied), which Exchange places for " +
			"30 days after any hold is removed and which keep the mailbox on hold, with Set-Mailbox " +
			"-RemoveDelayHoldApplied / -RemoveDelayReleaseHoldApplied (-InactiveMailbox for an inactive one). " +
			"Nothing happens when the mailbox has none.",
		Kind:   steps.KindEnsure,
		Target: "exo",
		Schema: steps.Schema{
			"identity": {Type: cty.String, Required: true, PII: true, Doc: "The mailbox's ExchangeObjectId, UPN, address or a GUID."},
		},
		Reversibility:      steps.Irreversible,
		IrreversibleReason: "A delay hold cannot be placed again; once it is gone, items marked for removal are purged.",
		RepeatSafe:         true,
		Permissions:        []string{roleHold, roleAppOnly},
	}
}

// delayPrivate is what Apply needs.
type delayPrivate struct {
	recordedMailbox
	Hold    bool `json:"hold"`
	Release bool `json:"release"`
}

func (delayHoldStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	return mailboxData{}.Observe(ctx, call)
}

func (delayHoldStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	hold, release := obs.Value.GetAttr("delay_hold").True(), obs.Value.GetAttr("delay_release_hold").True()
	state := func(h, r bool) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"delay_hold": cty.BoolVal(h), "delay_release_hold": cty.BoolVal(r)})
	}
	priv, err := json.Marshal(delayPrivate{recordedMailbox: recordedMailboxOf(obs), Hold: hold, Release: release})
	if err != nil {
		return steps.Change{}, err
	}
	ch := steps.Change{Action: steps.Update, Before: state(hold, release), After: state(false, false), Private: priv}
	if !hold && !release {
		ch.Action = steps.NoOp
	}
	return ch, nil
}

func (delayHoldStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	if change.Action == steps.NoOp {
		return steps.Result{}, nil
	}
	c, err := client(call)
	if err != nil {
		return steps.Result{}, err
	}
	var p delayPrivate
	if err := json.Unmarshal(change.Private, &p); err != nil || p.ObjectID == "" {
		return steps.Result{}, fmt.Errorf("exo: %s: the recorded change names no mailbox (%v)", call.Address, err)
	}
	params := map[string]any{}
	if p.Hold {
		params["RemoveDelayHoldApplied"] = true
	}
	if p.Release {
		params["RemoveDelayReleaseHoldApplied"] = true
	}
	return steps.Result{}, wrap(c.setMailbox(ctx, p.recordedMailbox, params), "remove the delay hold of "+p.ObjectID)
}
