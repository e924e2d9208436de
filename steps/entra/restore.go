package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func init() {
	steps.Register(restoreStep{})
	steps.Register(purgeStep{})
}

// restorePrivate is what Apply and Revert need, kept in the journal.
type restorePrivate struct {
	ID string `json:"id"`
}

// restoreStep is the entra_user_restored type.
type restoreStep struct{}

func (restoreStep) Info() steps.Info {
	return steps.Info{
		Name: "entra_user_restored",
		Doc: "Ensures a cloud user is not in the recycle bin: restores it (with its licenses, which brings its " +
			"mailbox back) when it is, and does nothing when it is already active. A restored user that was synced " +
			"comes back cloud-managed and keeps its old immutable ID. `self.observed` is what entra_user reads, " +
			"deleted_days_left included. Rollback deletes the user again, which restarts its 30 days in the recycle bin.",
		Kind:   steps.KindEnsure,
		Target: "entra",
		Schema: selectorSchema(steps.Schema{
			"auto_reconcile_proxy_conflict": {Type: cty.Bool, Doc: "Drop proxy addresses another object now holds instead of failing the restore."},
			"new_user_principal_name":       {Type: cty.String, PII: true, Doc: "Restore the user under this UPN (when its old one is taken)."},
		}),
		Reversibility:      steps.Compensable,
		IrreversibleReason: "Rollback deletes the restored user again: it returns to the recycle bin with a new deletion time, so its 30 days start over.",
		Permissions:        []string{permUserWrite},
	}
}

func (restoreStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	obs, err := userData{}.Observe(ctx, withDeleted(call))
	if err != nil || obs.Value.GetAttr("deleted").True() {
		return obs, err
	}
	// An active user holds the UPN, so there is nothing to restore; but if
	// the one meant is a deleted copy, say so: it can only be named by id.
	if upn, ok := steps.String(call.Config, "upn"); ok && call.Log != nil {
		if c, cerr := client(call); cerr == nil {
			if del, derr := c.deletedUsers(ctx, selector{UPN: upn}); derr == nil && len(del) > 0 {
				ids := make([]string, len(del))
				for i, u := range del {
					ids[i] = u.ID
				}
				fmt.Fprintf(call.Log, "%s: an active user (%s) holds this UPN, so nothing is restored; the recycle bin also holds %s: "+
					"to restore one of those, name it by id\n", call.Address, obs.Value.GetAttr("id").AsString(), strings.Join(ids, ", "))
			}
		}
	}
	return obs, nil
}

// withDeleted returns call as entra_user with deleted = true would see it.
func withDeleted(call steps.Call) steps.Call {
	attrs := map[string]cty.Value{"deleted": cty.True}
	for _, name := range []string{"upn", "id"} {
		if v, ok := steps.Attr(call.Config, name); ok {
			attrs[name] = v
		} else {
			attrs[name] = cty.NullVal(cty.String)
		}
	}
	call.Config = cty.ObjectVal(attrs)
	return call
}

// restoreState is the attribute a restore changes.
func restoreState(deleted bool) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"deleted": cty.BoolVal(deleted)})
}

// deletedChange is the change that leaves the observed user deleted
// (want true: entra_user_deleted deletes an active user) or active (want
// false: entra_user_restored restores a deleted one), a no-op when it is
// so already. Private carries the user's id, which a restore keeps.
func deletedChange(obs steps.Observation, want bool) (steps.Change, error) {
	deleted := obs.Value.GetAttr("deleted").True()
	priv, err := json.Marshal(restorePrivate{ID: obs.Value.GetAttr("id").AsString()})
	if err != nil {
		return steps.Change{}, err
	}
	ch := steps.Change{Action: steps.NoOp, Before: restoreState(deleted), After: restoreState(want), Private: priv}
	switch {
	case deleted == want:
	case want:
		ch.Action = steps.Delete
	default:
		ch.Action = steps.Create
	}
	return ch, nil
}

func (restoreStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	return deletedChange(obs, false)
}

// restoreCall returns the call's target and the user id its recorded
// change names: how applying a restore or a delete of one user starts.
func restoreCall(call steps.Call, change steps.Change) (*Client, restorePrivate, error) {
	c, err := client(call)
	if err != nil {
		return nil, restorePrivate{}, err
	}
	p, err := decodeRestorePrivate(change)
	return c, p, err
}

func decodeRestorePrivate(change steps.Change) (restorePrivate, error) {
	var p restorePrivate
	if err := json.Unmarshal(change.Private, &p); err != nil || p.ID == "" {
		return p, fmt.Errorf("entra: the recorded change carries no user id (%v)", err)
	}
	return p, nil
}

func (restoreStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	if change.Action == steps.NoOp {
		return steps.Result{}, nil
	}
	c, p, err := restoreCall(call, change)
	if err != nil {
		return steps.Result{}, err
	}
	auto, _ := steps.Bool(call.Config, "auto_reconcile_proxy_conflict")
	newUPN, _ := steps.String(call.Config, "new_user_principal_name")
	u, err := c.restoreUser(ctx, p.ID, auto, newUPN)
	if isStatus(err, 404) {
		// Restored already (a repeated apply after a crash)? Then it is
		// active under the same id.
		if a, aerr := c.activeUser(ctx, selector{ID: p.ID}); aerr == nil {
			u, err = a, nil
		}
	}
	if err != nil {
		return steps.Result{}, restoreError(err, p.ID)
	}
	return steps.Result{Value: cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal(u.ID), "upn": cty.StringVal(u.UPN)})}, nil
}

// restoreError explains why Graph refused a restore.
func restoreError(err error, id string) error {
	ge, ok := asGraphError(err)
	if !ok || ge.Status != 400 {
		return wrap(err, "restore user "+id)
	}
	hint := ""
	msg := strings.ToLower(ge.Message)
	switch {
	case strings.Contains(msg, "proxy"):
		hint = "; another object holds one of its proxy addresses: set auto_reconcile_proxy_conflict = true to drop them"
	case strings.Contains(msg, "userprincipalname"):
		hint = "; another user holds its UPN: restore it under new_user_principal_name"
	}
	return steps.Permanent(fmt.Errorf("entra: restore user %s: %w%s", id, ge, hint))
}

// Revert deletes the restored user again.
func (restoreStep) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	if change.Action == steps.NoOp {
		return nil
	}
	c, p, err := restoreCall(call, change)
	if err != nil {
		return err
	}
	err = c.deleteUser(ctx, p.ID)
	if isStatus(err, 404) {
		return nil // deleted already
	}
	return wrap(err, "delete restored user "+p.ID+" again")
}

// purgeStep is the entra_user_purge type.
type purgeStep struct{}

func (purgeStep) Info() steps.Info {
	return steps.Info{
		Name: "entra_user_purge",
		Doc: "Permanently deletes a user that is in the recycle bin, named by id or by upn (which must name exactly " +
			"one deleted user unless all = true). It never touches an active user, and does nothing when the user is " +
			"gone already. A purged user cannot be restored.",
		Kind:   steps.KindAction,
		Target: "entra",
		Schema: selectorSchema(steps.Schema{
			"all": {Type: cty.Bool, Doc: "Purge every deleted user with this UPN (stale copies of one account)."},
		}),
		Reversibility:      steps.Irreversible,
		IrreversibleReason: "A user deleted from the recycle bin is gone for good, with its licenses and its mailbox's link.",
		RepeatSafe:         true,
		// Reading the recycle bin is User.Read.All; permanently deleting a
		// user from it is User.DeleteRestore.All, delegated or application
		// (https://learn.microsoft.com/graph/api/directory-deleteditems-delete#permissions,
		// as the page reads now; older versions of it, such as the one
		// testdata/exchanges transcribes, listed only the delegated
		// User.ReadWrite.All and no application permission for users).
		Permissions: []string{permUserRead, "Graph: User.DeleteRestore.All"},
	}
}

// purgePrivate lists the users a purge deletes.
type purgePrivate struct {
	IDs []string `json:"ids"`
}

func (purgeStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	c, sel, err := userCall(call)
	if err != nil {
		return steps.Observation{}, err
	}
	del, err := c.deletedUsers(ctx, sel)
	if err != nil {
		return steps.Observation{}, err
	}
	vals, err := c.values(ctx, del...)
	if err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{
		Object: "entra:deleted-user:" + objectKey(sel.String()),
		Value:  cty.ObjectVal(map[string]cty.Value{"deleted_users": listOf(userType, vals), "count": cty.NumberIntVal(int64(len(del)))}),
	}, nil
}

func (purgeStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	var ids []string
	for it := obs.Value.GetAttr("deleted_users").ElementIterator(); it.Next(); {
		_, v := it.Element()
		ids = append(ids, v.GetAttr("id").AsString())
	}
	all, _ := steps.Bool(call.Config, "all")
	if len(ids) > 1 && !all {
		return steps.Change{}, steps.Permanent(fmt.Errorf("entra: %s: %d deleted users match (%s); name one by id, or say all = true",
			call.Address, len(ids), strings.Join(ids, ", ")))
	}
	priv, err := json.Marshal(purgePrivate{IDs: ids})
	if err != nil {
		return steps.Change{}, err
	}
	state := func(n int) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"deleted_users": cty.NumberIntVal(int64(n))})
	}
	ch := steps.Change{Action: steps.Delete, Before: state(len(ids)), After: state(0), Private: priv}
	if len(ids) == 0 {
		ch.Action = steps.NoOp
	}
	return ch, nil
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
	if err := json.Unmarshal(change.Private, &p); err != nil {
		return steps.Result{}, fmt.Errorf("entra: the recorded purge carries no ids: %w", err)
	}
	var purged []cty.Value
	for _, id := range p.IDs {
		err := c.purgeUser(ctx, id)
		if isStatus(err, 404) {
			continue // gone already
		}
		if err != nil {
			return steps.Result{}, wrap(err, "purge deleted user "+id)
		}
		purged = append(purged, cty.StringVal(id))
	}
	return steps.Result{Value: cty.ObjectVal(map[string]cty.Value{"purged": listOf(cty.String, purged)})}, nil
}
