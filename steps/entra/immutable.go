package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/steps"
)

func init() {
	steps.Register(immutableIDStep{})
}

// immutableIDStep is the entra_immutable_id type.
type immutableIDStep struct{}

func (immutableIDStep) Info() steps.Info {
	return steps.Info{
		Name: "entra_immutable_id",
		Doc: "Sets a cloud user's onPremisesImmutableId (the sourceAnchor Entra Connect hard-matches on; write it " +
			"with immutable_id(guid) so the bytes are in AD's order) or clears it with immutable_id = null so that " +
			"the next sync cycle can soft match. Graph refuses it for a user still mastered on premises while " +
			"directory sync is on, and for a user in the recycle bin (restore it first). Rollback writes the old " +
			"value back. A fan-out shares $batch requests of up to 20 writes.",
		Kind:   steps.KindEnsure,
		Target: "entra",
		Schema: selectorSchema(steps.Schema{
			"immutable_id": {Type: cty.String, Required: true, Nullable: true, Doc: "The immutable ID to write, or null to clear it."},
		}),
		Reversibility: steps.Reversible,
		// Update user's least privileged application permission
		// (https://learn.microsoft.com/graph/api/user-update#permissions).
		Permissions: []string{permUserWrite},
	}
}

// immutablePrivate is what Apply and Revert need, kept in the journal.
type immutablePrivate struct {
	ID     string  `json:"id"`
	UPN    string  `json:"upn"`
	Before *string `json:"before"`
	After  *string `json:"after"`
}

func (immutableIDStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	// A user still in the recycle bin at plan time may be restored by an
	// earlier step; it is observed there so that the plan can show it.
	return userData{}.Observe(ctx, withDeleted(call))
}

// desiredImmutableID reads the call's immutable_id; nil means "clear".
func desiredImmutableID(call steps.Call) (*string, error) {
	v, ok := steps.String(call.Config, "immutable_id")
	if !ok {
		return nil, nil
	}
	if strings.TrimSpace(v) == "" {
		return nil, steps.Permanent(fmt.Errorf("entra: %s: immutable_id is empty; write null to clear it", call.Address))
	}
	return &v, nil
}

func (immutableIDStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	want, err := desiredImmutableID(call)
	if err != nil {
		return steps.Change{}, err
	}
	var have *string
	if v := obs.Value.GetAttr("immutable_id"); !v.IsNull() {
		s := v.AsString()
		have = &s
	}
	state := func(p *string) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"immutable_id": ptrString(p), "anchor_guid": anchorGUID(p)})
	}
	priv, err := json.Marshal(immutablePrivate{
		ID: obs.Value.GetAttr("id").AsString(), UPN: obs.Value.GetAttr("upn").AsString(), Before: have, After: want,
	})
	if err != nil {
		return steps.Change{}, err
	}
	ch := steps.Change{Action: steps.Update, Before: state(have), After: state(want), Private: priv}
	if sameAnchor(have, want) {
		ch.Action = steps.NoOp
	}
	return ch, nil
}

// anchorGUID shows the GUID an immutable ID anchors, so a reviewer can
// compare it with the AD object's objectGUID; null when it is not one.
func anchorGUID(p *string) cty.Value {
	if p == nil {
		return cty.NullVal(cty.String)
	}
	g, err := anchor.FromImmutableID(*p)
	if err != nil {
		return cty.NullVal(cty.String)
	}
	return cty.StringVal(g.String())
}

func sameAnchor(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func decodeImmutablePrivate(change steps.Change) (immutablePrivate, error) {
	var p immutablePrivate
	if err := json.Unmarshal(change.Private, &p); err != nil || p.ID == "" {
		return p, fmt.Errorf("entra: the recorded change carries no user id (%v)", err)
	}
	return p, nil
}

func (immutableIDStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	if change.Action == steps.NoOp {
		return steps.Result{}, nil
	}
	p, err := decodeImmutablePrivate(change)
	if err != nil {
		return steps.Result{}, err
	}
	return steps.Result{}, writeImmutableID(ctx, call, p, p.After)
}

// Revert writes the immutable ID the user had before Apply.
func (immutableIDStep) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	if change.Action == steps.NoOp {
		return nil
	}
	p, err := decodeImmutablePrivate(change)
	if err != nil {
		return err
	}
	return writeImmutableID(ctx, call, p, p.Before)
}

func writeImmutableID(ctx context.Context, call steps.Call, p immutablePrivate, value *string) error {
	c, err := client(call)
	if err != nil {
		return err
	}
	err = c.setImmutableID(ctx, p.ID, value)
	if err == nil {
		return nil
	}
	return immutableIDError(ctx, c, err, p, value)
}

// immutableIDError names the user and the cause of a refused write: the
// user is mastered on premises while sync is on, it is in the recycle bin,
// or another user holds the value.
func immutableIDError(ctx context.Context, c *Client, err error, p immutablePrivate, value *string) error {
	what := "set the immutable ID of " + p.UPN
	if value == nil {
		what = "clear the immutable ID of " + p.UPN
	}
	ge, ok := asGraphError(err)
	if !ok {
		return wrap(err, what)
	}
	msg := strings.ToLower(ge.Message)
	switch {
	case ge.Status == 404:
		if del, derr := c.deletedUsers(ctx, selector{ID: p.ID}); derr == nil && len(del) > 0 {
			return steps.Permanent(fmt.Errorf("entra: %s: the user is in the recycle bin, where it cannot be changed; restore it first (entra_user_restored)", what))
		}
	case ge.Status == 400 && (strings.Contains(msg, "on-premises mastered") || strings.Contains(msg, "directory sync")):
		return steps.Permanent(fmt.Errorf("entra: %s: the user is still mastered on premises (onPremisesSyncEnabled = true) "+
			"and Graph refuses to change its anchor while directory sync is on: turn directory sync off (entra_dir_sync) and "+
			"wait until the user reads sync_enabled = false (entra_user_state with await), or fix the anchor in AD "+
			"(mS-DS-ConsistencyGuid) instead (%v)", what, ge))
	case ge.Status == 400 && (strings.Contains(msg, "held by") || strings.Contains(msg, "unique") || strings.Contains(msg, "already")):
		return steps.Permanent(fmt.Errorf("entra: %s: another user already has this immutable ID; clear it there first (%v)", what, ge))
	}
	return wrap(err, what)
}
