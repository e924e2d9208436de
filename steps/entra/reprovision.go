package entra

import (
	"context"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func init() {
	steps.Register(reprovisionStep{})
}

// reprovisionStep is the entra_user_reprovision type.
type reprovisionStep struct{}

func (reprovisionStep) Info() steps.Info {
	return steps.Info{
		Name: "entra_user_reprovision",
		Doc: "Asks Entra ID to retry a user's service provisioning (POST /users/{id}/retryServiceProvisioning, " +
			"Graph's counterpart of MSOnline's Redo-MsolProvisionUser), after the object that blocked Exchange " +
			"(a recipient holding its ExchangeGuid or ArchiveGuid) was purged. It is what has Exchange validate an " +
			"unchanged user again: a sync cycle exports nothing for a user whose AD object did not change. Exchange " +
			"may take minutes to hours; wait for the error to clear with entra_user_state.",
		Kind:               steps.KindAction,
		Target:             "entra",
		Schema:             selectorSchema(steps.Schema{}),
		Reversibility:      steps.Irreversible,
		IrreversibleReason: "Nothing to undo: provisioning a user again changes no setting.",
		RepeatSafe:         true,
		// Application permission as the API reference lists it
		// (https://learn.microsoft.com/graph/api/user-retryserviceprovisioning#permissions);
		// delegated: User.ReadWrite.All or Directory.ReadWrite.All for another user.
		Permissions: []string{permManageIdentities},
	}
}

func (reprovisionStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	return userData{}.Observe(ctx, call)
}

func (reprovisionStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	errs := cty.StringVal(provisioningErrorText(obs.Value, true, time.Time{}))
	return steps.Change{
		Action:  steps.Run,
		Before:  cty.ObjectVal(map[string]cty.Value{"errors": errs}),
		After:   cty.NullVal(cty.Object(map[string]cty.Type{"errors": cty.String})),
		Private: []byte(obs.Value.GetAttr("id").AsString()),
	}, nil
}

func (reprovisionStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	c, err := client(call)
	if err != nil {
		return steps.Result{}, err
	}
	id := string(change.Private)
	return steps.Result{}, wrap(c.retryProvisioning(ctx, id), "retry service provisioning of user "+id)
}
