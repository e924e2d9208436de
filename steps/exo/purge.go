package exo

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func init() {
	steps.Register(purgeStep{})
	steps.Register(holdStep{})
}

// purgeStep is the exo_recipient_purge type.
type purgeStep struct{}

func (purgeStep) Info() steps.Info {
	return steps.Info{
		Name: "exo_recipient_purge",
		Doc: "Permanently deletes the soft-deleted recipient an identity names (usually the ExchangeGuid or " +
			"ArchiveGuid an Exchange validation error reports), with Remove-MailUser or Remove-Mailbox " +
			"-PermanentlyDelete, so that the user who needs the GUID can be provisioned again. It refuses an active " +
			"recipient, more than one match, and a mailbox on litigation hold: release the hold in an earlier step " +
			"(exo_hold), after checking whether its data must be kept. Nothing happens when it is gone already.",
		Kind:   steps.KindAction,
		Target: "exo",
		Schema: steps.Schema{
			"identity": {Type: cty.String, Required: true, PII: true, Doc: "A GUID or an address naming the soft-deleted recipient."},
		},
		Reversibility:      steps.Irreversible,
		IrreversibleReason: "A recipient deleted permanently cannot be recovered, and neither can the mail it held.",
		RepeatSafe:         true,
		Permissions:        []string{roleWrite, roleAppOnly},
	}
}

// purgePrivate names the recipient to purge.
type purgePrivate struct {
	ObjectID string `json:"exchange_object_id"`
	Type     string `json:"type"`
}

func (purgeStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	return observeRecipients(ctx, call, true)
}

// readHolds sets the litigation hold and inactive state of each
// soft-deleted mailbox in l: Get-Recipient does not tell a mailbox's hold;
// Get-Mailbox does. A mailbox Get-Mailbox does not read as one keeps what
// Get-Recipient said.
func (c *Client) readHolds(ctx context.Context, l []recipient) {
	for i, r := range l {
		if r.SoftDeleted() && isMailbox(r) {
			if m, err := c.mailboxes(ctx, r.writeIdentity()); err == nil && len(m) == 1 {
				l[i].LitigationHoldEnabled = m[0].LitigationHoldEnabled
				l[i].IsInactiveMailbox = m[0].IsInactiveMailbox
			}
		}
	}
}

func isMailbox(r recipient) bool { return !strings.EqualFold(r.RecipientTypeDetails, "MailUser") }

func (purgeStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	var soft, active []cty.Value
	for it := obs.Value.GetAttr("recipients").ElementIterator(); it.Next(); {
		_, r := it.Element()
		if r.GetAttr("soft_deleted").True() {
			soft = append(soft, r)
		} else {
			active = append(active, r)
		}
	}
	none := cty.NullVal(recipientType)
	switch {
	case len(soft) == 0 && len(active) > 0:
		return steps.Change{}, steps.Permanent(fmt.Errorf("exo: %s: the recipient %s names is active (%s, %s); rebind purges only soft-deleted "+
			"recipients: remove its license or its user first, after deciding whether its mail must be kept",
			call.Address, identityOf(call), active[0].GetAttr("type").AsString(), active[0].GetAttr("exchange_object_id").AsString()))
	case len(soft) == 0:
		return steps.Change{Action: steps.NoOp, Before: none, After: none}, nil
	case len(soft) > 1:
		var ids []string
		for _, r := range soft {
			ids = append(ids, r.GetAttr("exchange_object_id").AsString())
		}
		return steps.Change{}, steps.Permanent(fmt.Errorf("exo: %s: %d soft-deleted recipients match %s (ExchangeObjectId %s); name one by ExchangeObjectId",
			call.Address, len(soft), identityOf(call), strings.Join(ids, ", ")))
	}
	r := soft[0]
	priv, err := json.Marshal(purgePrivate{ObjectID: r.GetAttr("exchange_object_id").AsString(), Type: r.GetAttr("type").AsString()})
	if err != nil {
		return steps.Change{}, err
	}
	return steps.Change{Action: steps.Delete, Before: r, After: none, Private: priv}, nil
}

func identityOf(call steps.Call) string {
	s, _ := steps.String(call.Config, "identity")
	return s
}

func (purgeStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	if change.Action == steps.NoOp {
		return steps.Result{}, nil
	}
	c, err := client(call)
	if err != nil {
		return steps.Result{}, err
	}
	var p purgePrivate
	if err := json.Unmarshal(change.Private, &p); err != nil || p.ObjectID == "" {
		return steps.Result{}, fmt.Errorf("exo: the recorded purge names no recipient (%v)", err)
	}
	// The hold may have been released by an earlier step since the plan,
	// or set since: read it now.
	cur, err := c.recipients(ctx, p.ObjectID)
	if err != nil {
		return steps.Result{}, err
	}
	if len(cur) == 0 {
		return steps.Result{}, nil // purged already
	}
	r := cur[0]
	if !r.SoftDeleted() {
		return steps.Result{}, steps.Permanent(fmt.Errorf("exo: %s: recipient %s is active again; it is not purged", call.Address, p.ObjectID))
	}
	cmdlet := "Remove-MailUser"
	if isMailbox(r) {
		cmdlet = "Remove-Mailbox"
		if m, err := c.mailboxes(ctx, p.ObjectID); err == nil && len(m) == 1 && m[0].LitigationHoldEnabled {
			return steps.Result{}, steps.Permanent(fmt.Errorf("exo: %s: mailbox %s (%s) is on litigation hold; release the hold in an "+
				"earlier step (exo_hold with enabled = false) once you have checked whether its data must be kept", call.Address, p.ObjectID, r.UserPrincipalName))
		}
	}
	_, err = c.Invoke(ctx, cmdlet, map[string]any{"Identity": p.ObjectID, "PermanentlyDelete": true, "Confirm": false})
	if isNotFound(err) {
		return steps.Result{}, nil
	}
	if err != nil {
		return steps.Result{}, wrap(err, cmdlet+" "+p.ObjectID)
	}
	return steps.Result{Value: cty.ObjectVal(map[string]cty.Value{"purged": cty.StringVal(p.ObjectID), "cmdlet": cty.StringVal(cmdlet)})}, nil
}

// holdStep is the exo_hold type.
type holdStep struct{}

func (holdStep) Info() steps.Info {
	return steps.Info{
		Name: "exo_hold",
		Doc: "Puts a mailbox (active, inactive or soft-deleted) on litigation hold or releases it, with Set-Mailbox " +
			"-LitigationHoldEnabled. Releasing the hold of a soft-deleted mailbox lets Exchange purge it once its " +
			"retention has passed. Rollback sets the hold back as it was.",
		Kind:   steps.KindEnsure,
		Target: "exo",
		Schema: steps.Schema{
			"identity": {Type: cty.String, Required: true, PII: true, Doc: "The mailbox's UPN, address or a GUID."},
			"enabled":  {Type: cty.Bool, Required: true, Doc: "true puts the mailbox on hold, false releases it."},
		},
		Reversibility: steps.Reversible,
		Permissions:   []string{roleHold, roleAppOnly},
	}
}

// holdPrivate is what Apply and Revert need.
type holdPrivate struct {
	recordedMailbox
	Before bool `json:"before"`
}

// recordedMailbox is the mailbox a Set-Mailbox change was planned for, as
// the change keeps it: its ExchangeObjectId, and whether it was inactive
// (soft-deleted), which Set-Mailbox must be told.
type recordedMailbox struct {
	ObjectID string `json:"exchange_object_id"`
	Inactive bool   `json:"inactive"`
}

// recordedMailboxOf is the mailbox an exo_mailbox observation read.
func recordedMailboxOf(obs steps.Observation) recordedMailbox {
	return recordedMailbox{
		ObjectID: obs.Value.GetAttr("exchange_object_id").AsString(),
		Inactive: obs.Value.GetAttr("soft_deleted").True(),
	}
}

// setMailbox runs Set-Mailbox with params on the recorded mailbox m, with
// -InactiveMailbox when m is inactive: "The InactiveMailbox switch
// specifies that the mailbox is an inactive mailbox. ... This switch is
// required to use the LitigationHoldEnabled and LitigationHoldDuration
// parameters on inactive mailboxes", and the RemoveDelayHoldApplied and
// RemoveDelayReleaseHoldApplied parameter sets take it too
// (https://learn.microsoft.com/powershell/module/exchangepowershell/set-mailbox#-inactivemailbox).
func (c *Client) setMailbox(ctx context.Context, m recordedMailbox, params map[string]any) error {
	all := map[string]any{"Identity": m.ObjectID}
	maps.Copy(all, params)
	if m.Inactive {
		all["InactiveMailbox"] = true
	}
	_, err := c.Invoke(ctx, "Set-Mailbox", all)
	return err
}

func (holdStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	return mailboxData{}.Observe(ctx, call)
}

func (holdStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	want, ok := steps.Bool(call.Config, "enabled")
	if !ok {
		return steps.Change{}, steps.Permanent(fmt.Errorf("exo: %s: enabled must be true or false", call.Address))
	}
	have := obs.Value.GetAttr("litigation_hold").True()
	state := func(b bool) cty.Value { return cty.ObjectVal(map[string]cty.Value{"litigation_hold": cty.BoolVal(b)}) }
	priv, err := json.Marshal(holdPrivate{recordedMailbox: recordedMailboxOf(obs), Before: have})
	if err != nil {
		return steps.Change{}, err
	}
	ch := steps.Change{Action: steps.Update, Before: state(have), After: state(want), Private: priv}
	if have == want {
		ch.Action = steps.NoOp
	}
	return ch, nil
}

func (holdStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	if change.Action == steps.NoOp {
		return steps.Result{}, nil
	}
	want, _ := steps.Bool(call.Config, "enabled")
	return steps.Result{}, setHold(ctx, call, change, want)
}

// Revert sets the hold back as it was before Apply.
func (holdStep) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	if change.Action == steps.NoOp {
		return nil
	}
	var p holdPrivate
	if err := json.Unmarshal(change.Private, &p); err != nil {
		return fmt.Errorf("exo: the recorded hold change is unreadable: %w", err)
	}
	return setHold(ctx, call, change, p.Before)
}

func setHold(ctx context.Context, call steps.Call, change steps.Change, on bool) error {
	c, err := client(call)
	if err != nil {
		return err
	}
	var p holdPrivate
	if err := json.Unmarshal(change.Private, &p); err != nil || p.ObjectID == "" {
		return fmt.Errorf("exo: the recorded hold change names no mailbox (%v)", err)
	}
	err = c.setMailbox(ctx, p.recordedMailbox, map[string]any{"LitigationHoldEnabled": on})
	return wrap(err, fmt.Sprintf("set litigation hold of %s to %t", p.ObjectID, on))
}
