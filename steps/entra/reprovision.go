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
		Doc: "Asks Entra ID to provision a user to its services again (POST /users/{id}/reprocessLicenseAssignment, " +
			"Graph's successor to MSOnline's Redo-MsolProvisionUser), after the object that blocked Exchange " +
			"(a recipient holding its ExchangeGuid or ArchiveGuid) was purged. Exchange may take minutes to hours; " +
			"wait for the error to clear with entra_user_state.",
		Kind:               steps.KindAction,
		Target:             "entra",
		Schema:             selectorSchema(steps.Schema{}),
		Reversibility:      steps.Irreversible,
		IrreversibleReason: "Nothing to undo: provisioning a user again changes no setting.",
		RepeatSafe:         true,
		Permissions:        []string{"Graph: LicenseAssignment.ReadWrite.All"},
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
	return steps.Result{}, wrap(c.reprocessLicenses(ctx, id), "reprovision user "+id)
}
