package entra

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func init() {
	steps.Register(userStateStep{})
}

// userStateStep is the entra_user_state type: a desired state that sync,
// not rebind, brings about. It is meant for `await`.
type userStateStep struct{}

func (userStateStep) Info() steps.Info {
	return steps.Info{
		Name: "entra_user_state",
		Doc: "Waits, with `await`, until sync has made a cloud user match: its immutable_id, its sync_enabled " +
			"(true once bound to an AD object, false once directory sync is off and it is cloud-managed) and its " +
			"upn, where given (a null argument is not compared), or until Exchange's provisioning errors clear. rebind " +
			"never writes these: Apply fails. While waiting for what a sync export writes (the immutable ID, the UPN, " +
			"sync_enabled = true), a sync conflict Entra reports for the user (onPremisesProvisioningErrors) ends the " +
			"wait at once with its text, telling \"never\" apart from \"not yet\"; Exchange's errors come after the " +
			"export and do not. A user that does not exist yet is \"not yet\"; one that sync deleted because of a " +
			"conflict is \"never\".",
		Kind:   steps.KindEnsure,
		Target: "entra",
		Schema: selectorSchema(steps.Schema{
			"immutable_id":        {Type: cty.String, Nullable: true, Doc: "The immutable ID the user must have (e.g. immutable_id(data.ad_user.new.object_guid))."},
			"sync_enabled":        {Type: cty.Bool, Nullable: true, Doc: "Whether the user must be synced (true) or cloud-managed after sync was turned off (false)."},
			"user_principal_name": {Type: cty.String, Nullable: true, PII: true, Doc: "The UPN the user must have (sync may rename it)."},
			"service_errors_cleared": {Type: cty.Bool, Doc: "Wait until Exchange reports no unresolved provisioning error for the user " +
				"(after entra_user_reprovision); its errors then mean \"not yet\", and only sync conflicts end the wait."},
			"errors_since": {Type: cty.String, Doc: "Only errors that occurred at or after this RFC 3339 time end the wait, e.g. " +
				"step.adsync_cycle.initial.result.started: errors of earlier cycles may be the ones the runbook fixes."},
			"synced_since": {Type: cty.String, Doc: "Also wait until the user's last sync (onPremisesLastSyncDateTime) is at or after this " +
				"RFC 3339 time, e.g. step.adsync_cycle.initial.result.started: a user that already holds the awaited immutable ID and " +
				"is synced (by an earlier Connect server) matches only once this cycle's export has reached it."},
		}),
		Reversibility: steps.Reversible,
		Permissions:   []string{permUserRead},
	}
}

// stateAttrs maps the step's arguments to the user value's attributes.
var stateAttrs = map[string]string{"immutable_id": "immutable_id", "sync_enabled": "sync_enabled", "user_principal_name": "upn"}

func (userStateStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	c, sel, err := userCall(call)
	if err != nil {
		return steps.Observation{}, err
	}
	u, err := c.activeUser(ctx, sel)
	if errors.Is(err, steps.ErrNotFound) {
		// Not there yet: sync may still create it, or bring it back
		// from the recycle bin, where a user sync deleted is kept with
		// the errors that tell why.
		del, derr := c.deletedUsers(ctx, sel)
		if derr != nil {
			return steps.Observation{}, derr
		}
		obs := steps.Observation{
			Object: "entra:user:" + objectKey(sel.String()),
			Value:  cty.ObjectVal(map[string]cty.Value{"exists": cty.False, "user": cty.NullVal(userType)}),
		}
		if len(del) > 0 {
			vals, err := c.values(ctx, del[0])
			if err != nil {
				return steps.Observation{}, err
			}
			// The same object an earlier restore step works on.
			obs.Object = userObject(del[0].ID)
			obs.Value = cty.ObjectVal(map[string]cty.Value{"exists": cty.False, "user": vals[0]})
		}
		return obs, nil
	}
	if err != nil {
		return steps.Observation{}, err
	}
	vals, err := c.values(ctx, u)
	if err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{
		Object: userObject(u.ID),
		Value:  cty.ObjectVal(map[string]cty.Value{"exists": cty.True, "user": vals[0]}),
	}, nil
}

func (userStateStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	before, after := map[string]cty.Value{}, map[string]cty.Value{}
	exists := obs.Value.GetAttr("exists").True()
	u := obs.Value.GetAttr("user")
	match := exists
	for arg, attr := range stateAttrs {
		want, ok := steps.Attr(call.Config, arg)
		if !ok {
			continue
		}
		// A deleted user shows what it had: what sync must change.
		have := cty.NullVal(want.Type())
		if !u.IsNull() {
			have = u.GetAttr(attr)
		}
		before[arg], after[arg] = have, want
		if have.IsNull() || !equalFold(have, want, attr == "upn") {
			match = false
		}
	}
	if s, ok := steps.String(call.Config, "synced_since"); ok {
		since, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return steps.Change{}, steps.Permanent(fmt.Errorf("entra: %s: synced_since %q is not an RFC 3339 time", call.Address, s))
		}
		// onPremisesLastSyncDateTime: "Indicates the last time at which the
		// object was synced with the on-premises directory"
		// (learn.microsoft.com/graph/api/resources/user).
		last := cty.NullVal(cty.String)
		if !u.IsNull() {
			last = u.GetAttr("last_sync")
		}
		before["synced_since"], after["synced_since"] = last, cty.StringVal(s)
		if t, err := time.Parse(time.RFC3339, strOr(last, "")); err != nil || t.Before(since) {
			match = false
		}
	}
	cleared, _ := steps.Bool(call.Config, "service_errors_cleared")
	if cleared {
		none := exists && unresolvedServiceErrors(u) == 0
		before["service_errors_cleared"], after["service_errors_cleared"] = cty.BoolVal(none), cty.True
		match = match && none
	}
	if len(after) == 0 {
		return steps.Change{}, steps.Permanent(fmt.Errorf("entra: %s: name at least one of immutable_id, sync_enabled, user_principal_name, "+
			"service_errors_cleared to wait for", call.Address))
	}
	ch := steps.Change{Action: steps.Update, Before: cty.ObjectVal(before), After: cty.ObjectVal(after)}
	if match {
		ch.Action = steps.NoOp
		return ch, nil
	}
	// At plan time (no Refresh) a reported error may be the very one the
	// runbook's earlier steps fix; while waiting, a sync conflict means
	// "never", also for a user that sync deleted because of it. Exchange's
	// errors do not: they come after the export, which they cannot block.
	if !u.IsNull() && call.Refresh != nil && waitsForSync(call) {
		var since time.Time
		if s, ok := steps.String(call.Config, "errors_since"); ok {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return steps.Change{}, steps.Permanent(fmt.Errorf("entra: %s: errors_since %q is not an RFC 3339 time", call.Address, s))
			}
			since = t
		}
		if msg := provisioningErrorText(u, false, since); msg != "" {
			where := ""
			if !exists {
				where = " (sync deleted the user: it is in the recycle bin)"
			}
			return steps.Change{}, steps.Permanent(fmt.Errorf("entra: %s: Entra reports a provisioning error for %s%s, so sync will not make it match: %s",
				call.Address, u.GetAttr("upn").AsString(), where, msg))
		}
	}
	return ch, nil
}

// waitsForSync reports whether the call waits for something a sync export
// writes (the anchor, the UPN, or the user becoming synced). Only then does a
// provisioning error mean "never": a user becoming cloud-managed after
// directory sync was turned off, or Exchange provisioning it again, does not
// depend on an export that a sync conflict blocks.
func waitsForSync(call steps.Call) bool {
	if _, ok := steps.Attr(call.Config, "immutable_id"); ok {
		return true
	}
	if _, ok := steps.Attr(call.Config, "user_principal_name"); ok {
		return true
	}
	on, ok := steps.Bool(call.Config, "sync_enabled")
	return ok && on
}

// unresolvedServiceErrors counts the user value's unresolved Exchange
// provisioning errors.
func unresolvedServiceErrors(u cty.Value) int {
	n := 0
	for it := u.GetAttr("service_provisioning_errors").ElementIterator(); it.Next(); {
		_, e := it.Element()
		if !e.GetAttr("resolved").True() {
			n++
		}
	}
	return n
}

// equalFold compares two known values, UPNs without regard to case.
func equalFold(a, b cty.Value, fold bool) bool {
	if fold && a.Type() == cty.String && b.Type() == cty.String {
		return strings.EqualFold(a.AsString(), b.AsString())
	}
	return a.Equals(b).True()
}

// provisioningErrorText joins the user value's sync conflicts (and, with
// withService, Exchange's unresolved errors) that occurred at or after since
// into one readable sentence; "" when there are none.
func provisioningErrorText(u cty.Value, withService bool, since time.Time) string {
	var parts []string
	for it := u.GetAttr("provisioning_errors").ElementIterator(); it.Next(); {
		_, e := it.Element()
		if before(e.GetAttr("occurred"), since) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s on %s (value %q, %s)", e.GetAttr("category").AsString(),
			e.GetAttr("property").AsString(), e.GetAttr("value").AsString(), strOr(e.GetAttr("occurred"), "time unknown")))
	}
	if withService {
		for it := u.GetAttr("service_provisioning_errors").ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.GetAttr("resolved").True() || before(e.GetAttr("created"), since) {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s: %s", e.GetAttr("service").AsString(), e.GetAttr("text").AsString()))
		}
	}
	return strings.Join(parts, "; ")
}

// before reports whether a time value is known to be before since.
func before(v cty.Value, since time.Time) bool {
	if since.IsZero() || v.IsNull() {
		return false
	}
	t, err := time.Parse(time.RFC3339, v.AsString())
	return err == nil && t.Before(since)
}

func strOr(v cty.Value, dflt string) string {
	if v.IsNull() {
		return dflt
	}
	return v.AsString()
}

func (userStateStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	if change.Action == steps.NoOp {
		return steps.Result{}, nil
	}
	return steps.Result{}, steps.Permanent(fmt.Errorf("entra: %s: the user does not match yet, and entra_user_state is changed by sync, "+
		"not written directly: give the step an `await` duration to wait for the sync cycle", call.Address))
}

// Revert has nothing to undo: the step never writes.
func (userStateStep) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	return nil
}
