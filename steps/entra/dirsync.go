package entra

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func init() {
	steps.Register(dirSyncStep{})
}

// dirSyncStep is the entra_dir_sync type.
type dirSyncStep struct{}

func (dirSyncStep) Info() steps.Info {
	return steps.Info{
		Name: "entra_dir_sync",
		Doc: "Turns the tenant's directory synchronisation (organization.onPremisesSyncEnabled) on or off. Turning it " +
			"off takes up to 72 hours to complete, during which users stay mastered on premises and sync cannot be " +
			"turned back on; wait for the users with entra_user_state (sync_enabled = false). Turning it on makes " +
			"the next cycle a full synchronisation.",
		Kind:   steps.KindEnsure,
		Target: "entra",
		Schema: steps.Schema{
			"enabled": {Type: cty.Bool, Required: true, Doc: "true turns directory sync on, false turns it off."},
		},
		Reversibility: steps.Irreversible,
		IrreversibleReason: "Turning directory sync off cannot be undone until Microsoft finishes it (up to 72 hours); " +
			"turning it on starts a full sync that takes over matching cloud users.",
		// Update organization's least privileged application permission
		// (https://learn.microsoft.com/graph/api/organization-update#permissions).
		Permissions: []string{permOrgWrite},
	}
}

func (dirSyncStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	return tenantData{}.Observe(ctx, call)
}

func (dirSyncStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	want, ok := steps.Bool(call.Config, "enabled")
	if !ok {
		return steps.Change{}, steps.Permanent(fmt.Errorf("entra: %s: enabled must be true or false", call.Address))
	}
	have := obs.Value.GetAttr("sync_enabled")
	on := !have.IsNull() && have.True()
	state := func(v cty.Value) cty.Value { return cty.ObjectVal(map[string]cty.Value{"sync_enabled": v}) }
	ch := steps.Change{Action: steps.Update, Before: state(have), After: state(cty.BoolVal(want)),
		Private: []byte(obs.Value.GetAttr("id").AsString())}
	if on == want {
		ch.Action = steps.NoOp
	}
	return ch, nil
}

func (dirSyncStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	if change.Action == steps.NoOp {
		return steps.Result{}, nil
	}
	c, err := client(call)
	if err != nil {
		return steps.Result{}, err
	}
	want, _ := steps.Bool(call.Config, "enabled")
	orgID := string(change.Private)
	if orgID == "" {
		t, err := c.organization(ctx)
		if err != nil {
			return steps.Result{}, err
		}
		orgID = t.ID
	}
	err = c.setDirSync(ctx, orgID, want)
	if err == nil {
		return steps.Result{}, nil
	}
	verb := "turn directory sync off"
	if want {
		verb = "turn directory sync on"
	}
	// Turning sync on after turning it off: "Once disabled, the process
	// cannot be canceled and must complete before you can take further
	// action, including re-enabling DirSync"
	// (https://learn.microsoft.com/powershell/module/microsoft.entra.directorymanagement/set-entradirsyncenabled).
	// Graph documents no error code or text for that refusal, so any 400
	// to turning it on while it reads as off is reported as the documented
	// wait, with Graph's own words; nothing keys on the wording.
	if ge, ok := asGraphError(err); ok && ge.Status == 400 && want && !wasOn(change) {
		return steps.Result{}, steps.Permanent(fmt.Errorf("entra: %s: Graph refused it (%w). Turning it off, once started, "+
			"must complete before sync can be turned on again (it takes up to 72 hours): wait for it, e.g. with "+
			"entra_user_state sync_enabled = false on a synced user, then apply again", verb, ge))
	}
	return steps.Result{}, wrap(err, verb)
}

// wasOn reports whether the tenant's sync read as on when planned.
func wasOn(ch steps.Change) bool {
	if ch.Before.IsNull() {
		return false
	}
	v := ch.Before.GetAttr("sync_enabled")
	return v.IsKnown() && !v.IsNull() && v.True()
}
